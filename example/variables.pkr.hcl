# Variables of the example. Set them with -var name=value, or in a *.pkrvars.hcl file passed with
# -var-file. Relative paths are relative to the directory packer runs in.

variable "base_image" {
  type        = string
  default     = ""
  description = <<-EOT
    The disk image (qcow2 or raw) to customize: a path, or a URL together with base_image_checksum.
    Empty means the Debian bookworm image that images/debian/build.sh made, through the link
    .cache/images/debian-bookworm-amd64.qcow2 that `make example` points at it. With internet
    access, an Ubuntu or Debian cloud image works too, e.g.
    https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2
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

variable "signup_key" {
  type        = string
  default     = "secret"
  sensitive   = true
  description = "The Ellis sign-up code, also used as the TURN workaround password (shared_config)."
}

variable "ellis_api_key" {
  type        = string
  default     = "secret"
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
