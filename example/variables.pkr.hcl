# Variables of the example. Set them with -var name=value, or in a *.pkrvars.hcl file passed with
# -var-file. Relative paths are relative to the directory packer runs in.

variable "base_image" {
  type        = string
  description = <<-EOT
    The disk image (qcow2 or raw) to customize: a path, or a URL together with base_image_checksum.
    debian.pkrvars.hcl sets Debian 12's cloud image; `make example` passes the Debian image that
    images/debian/build.sh builds.
  EOT
}

variable "base_image_checksum" {
  type        = string
  default     = ""
  description = "Required when base_image is a URL: \"sha256:<hex>\" or \"file:<url of a SHA256SUMS file>\"."
}

variable "output_directory" {
  type        = string
  default     = "output-clearwater-aio"
  description = "Where the image is written. It must not exist, unless packer build runs with -force."
}

variable "compression" {
  type        = string
  default     = "zlib"
  description = <<-EOT
    How the qcow2 image is compressed: zlib (read by every QEMU), zstd (smaller and faster, for
    clouds whose compute hosts all run QEMU 5.1 or later) or none.
  EOT
}

variable "disk_size" {
  type        = string
  default     = "3G"
  description = "The image's virtual disk size: the disk, its root partition and filesystem are grown offline."
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

variable "user_data_directory" {
  type        = string
  default     = "output-clearwater-user-data"
  description = "Where userdata.pkr.hcl writes the user-data of the IPv4 lab and of the IPv6 lab."
}

variable "base_user_data" {
  type        = string
  default     = ""
  description = "A file holding your own user-data (any cloud-init format); empty means base-user-data.yaml beside this file."
}
