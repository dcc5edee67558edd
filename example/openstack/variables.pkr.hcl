# Variables of the OpenStack example. The cloud's credentials come from the environment
# (OS_AUTH_URL, OS_USERNAME... from an openrc file, or OS_CLOUD naming a clouds.yaml entry).

variable "source_image_name" {
  type        = string
  default     = "debian-12-genericcloud-amd64"
  description = "The cloud image the build instance boots (Glance name): sshd, sudo and cloud-init."
}

variable "flavor" {
  type        = string
  default     = "m1.small"
  description = "The build instance's flavor."
}

variable "networks" {
  type        = list(string)
  default     = []
  description = "UUIDs of the networks the build instance is attached to; empty lets Nova choose (one network in the project)."
}

variable "security_groups" {
  type        = list(string)
  default     = ["default"]
  description = "Security groups of the build instance: one must let packer reach port 22."
}

variable "image_name" {
  type        = string
  default     = "clearwater-aio"
  description = "The name of the image the build makes."
}

variable "ssh_username" {
  type        = string
  default     = "debian"
  description = "The image's default user, created by cloud-init with passwordless sudo: debian on Debian, ubuntu on Ubuntu."
}

variable "ssh_ip_version" {
  type        = string
  default     = "4"
  description = <<-EOT
    Which of the instance's addresses packer connects to: "4" or "6". Keep "4": packer-plugin-openstack
    v1.1.3 and v1.1.4 cannot SSH over IPv6 (README.md, "IPv6-only build networks").
  EOT
}

variable "base_user_data" {
  type        = string
  default     = ""
  description = "A user-data file of your own for the build instance (SSH keys, a proxy...); it carries no Clearwater toggle: each lab's instances get theirs at boot."
}

variable "hostname" {
  type        = string
  default     = "cw-aio"
  description = "Clearwater's host name (public_hostname, sprout_hostname, the S-CSCF/I-CSCF/BGCF names)."
}

variable "home_domain" {
  type        = string
  default     = "example.com"
  description = "Clearwater's SIP home domain (shared_config home_domain)."
}

# The deployment's secrets have no default: pass them with -var, a -var-file of your own kept out
# of version control, or the environment (PKR_VAR_signup_key, PKR_VAR_ellis_api_key).
variable "signup_key" {
  type        = string
  sensitive   = true
  description = "The Ellis sign-up code, also used as the TURN workaround password (shared_config)."
}

variable "ellis_api_key" {
  type        = string
  sensitive   = true
  description = "Ellis's API key and cookie key (shared_config ellis_api_key and ellis_cookie_key)."
}

variable "ipv6_timeout" {
  type        = string
  default     = "45s"
  description = "How long the helper waits for IPv6 when IPv6 is forced, before falling back to IPv4."
}

variable "force_ipv6" {
  type        = bool
  default     = null
  description = "Bake force_ipv6 into the image (true: every instance is forced to IPv6 unless its own user-data says clearwater: {force_ipv6: false}); unset bakes nothing, so the helper's default (not forced) applies."
}
