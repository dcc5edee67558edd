# A Clearwater all-in-one (AIO) image, customized offline from a Debian base image:
#
#   packer init example/ && sudo packer build -var-file=example/debian.pkrvars.hcl \
#     -var signup_key=... -var ellis_api_key=... example/
#   make example                      # from a clone: everything, from a fresh machine (README.md)
#
# The shell provisioner stands in for Clearwater's own packages, which cannot be fetched here;
# the clearwater-firstboot provisioner then bakes in the helper that picks IPv4 or IPv6 at every
# boot and writes Clearwater's config.

packer {
  required_plugins {
    clearwater = {
      version = "~> 0.2"
      source  = "github.com/clearwater-aio/clearwater"
    }
  }
}

source "clearwater-chroot" "aio" {
  source_image          = var.base_image
  source_image_checksum = var.base_image_checksum
  format                = "qcow2"
  compression           = var.compression
  disk_size             = var.disk_size
  output_directory      = var.output_directory
  image_name            = "clearwater-aio.qcow2"
}

build {
  sources = ["source.clearwater-chroot.aio"]

  # Stand-in for Clearwater's install (apt-get install clearwater-management ellis-node bono-node
  # sprout-node homer-node homestead-node ... from Clearwater's repository): the deployment's
  # shared_config with the operator's keys, and the local_config template that
  # clearwater-auto-config-generic would leave. The helper fills in the addresses at boot.
  provisioner "shell" {
    environment_vars = [
      "HOME_DOMAIN=${var.home_domain}",
      "SIGNUP_KEY=${var.signup_key}",
      "ELLIS_API_KEY=${var.ellis_api_key}",
    ]
    script = "${path.root}/scripts/clearwater-standin.sh"
  }

  provisioner "clearwater-firstboot" {
    hostname        = var.hostname
    ipv4_wait       = var.ipv4_wait
    ipv6_timeout    = var.ipv6_timeout
    on_missing_ipv6 = "fallback"
  }
}
