# Variables of the qemu example. Set them with -var name=value, or in a *.pkrvars.hcl file
# passed with -var-file. Relative paths are relative to the directory packer runs in.

variable "base_image" {
  type        = string
  description = <<-EOT
    The cloud image to boot (a path or a URL): openssh-server, sudo and cloud-init.
    debian.pkrvars.hcl sets Debian 12's cloud image; `make example-qemu` passes the "cloud" variant
    of the Debian base (images/debian/build.sh --variant cloud).
  EOT
}

variable "base_image_checksum" {
  type        = string
  default     = "none"
  description = "The base image's checksum, \"sha256:<hex>\" or \"file:<url of a SHA256SUMS file>\"; \"none\" skips the check."
}

variable "output_directory" {
  type        = string
  default     = "output-clearwater-aio-qemu"
  description = "Where the image is written. It must not exist, unless packer build runs with -force."
}

variable "disk_size" {
  type        = string
  default     = "3G"
  description = "The image's virtual disk size (cloud-init grows the root partition at boot)."
}

variable "accelerator" {
  type        = string
  default     = "tcg"
  description = "QEMU's accelerator: \"tcg\" runs anywhere (slowly); \"kvm\" where /dev/kvm works."
}

variable "cpus" {
  type        = number
  default     = 1
  description = "The build instance's vCPUs: under TCG each is a host thread, and one is enough for cloud-init and the provisioners."
}

variable "ssh_username" {
  type        = string
  default     = "builder"
  description = "The user packer logs in as; the seed creates it with ssh_private_key_file's public key."
}

variable "ssh_private_key_file" {
  type        = string
  description = "The private key packer logs in with; its public key (the same path plus .pub) goes into the seed."
}

variable "ssh_password" {
  type        = string
  default     = ""
  sensitive   = true
  description = <<-EOT
    Empty when ssh_username has passwordless sudo (the seed's default). Otherwise the user's sudo
    password: the provisioners then run "echo '<password>' | sudo -S -p '' ...".
  EOT
}

variable "ssh_timeout" {
  type        = string
  default     = "20m"
  description = "How long packer waits for SSH: a TCG boot with cloud-init takes minutes on a busy host."
}

variable "seed_user_data" {
  type        = string
  default     = ""
  description = "A user-data template of your own for the build instance; empty means seed-user-data.pkrtpl.yaml."
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

variable "ipv4_wait" {
  type        = string
  default     = "10s"
  description = "How long the helper waits for IPv4 before settling on IPv6 (an IPv6-only network)."
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
