# Prove the example's image before you publish it: boot it in QEMU on a dual-stack, an IPv6-only
# and an IPv4-only network, with and without the force_ipv6 toggle in user-data, and fail when
# clearwater-firstboot chooses the wrong family. No root needed; KVM where usable, TCG otherwise.
#
#   bin/packer build example/                 # the image (as root: clearwater-chroot)
#   bin/packer build example/verify/          # this, as any user who can read the image
#
# The report goes beside the image (clearwater-aio.qcow2.verify.json). To verify in the same
# build instead, add `post-processor "clearwater-verify" {}` to example/build.pkr.hcl's build.

packer {
  required_plugins {
    clearwater = {
      version = ">= 0.1.0"
      source  = "github.com/clearwater-aio/clearwater"
    }
  }
}

variable "image" {
  type        = string
  default     = "output-clearwater-aio/clearwater-aio.qcow2"
  description = "The image to verify: the example's output, or any qcow2 or raw image with the helper."
}

variable "ipv6_lab_user_data" {
  type        = string
  default     = "output-clearwater-user-data/ipv6-lab.yaml"
  description = "The IPv6 lab's user-data that userdata.pkr.hcl rendered (the data source's output, merged into your own)."
}

variable "parallel" {
  type        = number
  default     = 2
  description = "How many guests boot at once (each takes a host CPU under TCG, and 1 GiB)."
}

variable "boot_timeout" {
  type        = string
  default     = "10m"
  description = "How long one boot may take to reach the helper's verdict (TCG on a busy host: raise it)."
}

source "null" "image" {
  communicator = "none"
}

build {
  sources = ["source.null.image"]

  post-processors {
    # Makes the image file the artifact that clearwater-verify takes.
    post-processor "artifice" {
      files = [var.image]
    }
    post-processor "clearwater-verify" {
      parallel     = var.parallel
      boot_timeout = var.boot_timeout

      # Besides the default cases: the IPv6 lab's user-data exactly as the example renders it
      # (the clearwater-userdata data source's output, merged into base-user-data.yaml).
      case {
        name            = "ipv6-lab"
        network         = "dual-stack"
        user_data       = file(var.ipv6_lab_user_data)
        expected_family = "ipv6"
      }
    }
  }
}
