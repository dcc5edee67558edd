# A Clearwater all-in-one image baked the way most pipelines bake: packer's qemu builder boots the
# Debian cloud base image, logs in over SSH as a non-root user, and provisions through sudo.
#
#   make example-qemu                 # everything, from a fresh machine (see README.md)
#   bin/packer build -force -var ssh_private_key_file=KEY example/qemu/
#
# The NoCloud seed (seed-user-data.pkrtpl.yaml) creates the build user with passwordless sudo and
# your SSH key; the clearwater-firstboot provisioner then runs with its default execute_command.

packer {
  required_plugins {
    clearwater = {
      version = "~> 0.2"
      source  = "github.com/clearwater-aio/clearwater"
    }
    qemu = {
      version = "~> 1.0, >= 1.0.9"
      source  = "github.com/hashicorp/qemu"
    }
  }
}

locals {
  base_image = var.base_image != "" ? var.base_image : "${abspath(path.root)}/../../.cache/images/debian-bookworm-amd64-cloud.qcow2"
  # How the build user becomes root: passwordless sudo, or sudo reading ssh_password on stdin.
  sudo = var.ssh_password == "" ? "sudo -n" : "echo '${var.ssh_password}' | sudo -S -p ''"
}

source "qemu" "aio" {
  disk_image       = true
  iso_url          = local.base_image
  iso_checksum     = var.base_image_checksum
  format           = "qcow2"
  disk_size        = var.disk_size
  disk_interface   = "virtio"
  net_device       = "virtio-net"
  output_directory = var.output_directory
  vm_name          = "clearwater-aio.qcow2"

  # No KVM needed: TCG, with a CPU model that has RDRAND (the guest's entropy at early boot).
  accelerator = var.accelerator
  cpu_model   = "max"
  cpus        = var.cpus
  memory      = 1024
  headless    = true

  # The instance's NoCloud seed: a CD labelled cidata with user-data and meta-data.
  cd_label = "cidata"
  cd_content = {
    "meta-data" = "instance-id: clearwater-aio-build\nlocal-hostname: clearwater-aio-build\n"
    "user-data" = templatefile(var.seed_user_data != "" ? var.seed_user_data : "${abspath(path.root)}/seed-user-data.pkrtpl.yaml", {
      ssh_username   = var.ssh_username
      ssh_public_key = trimspace(file("${var.ssh_private_key_file}.pub"))
      ssh_password   = var.ssh_password
    })
  }

  communicator         = "ssh"
  ssh_username         = var.ssh_username
  ssh_private_key_file = var.ssh_private_key_file
  ssh_timeout          = var.ssh_timeout
  # The next instance of the image is a new one to cloud-init: it runs its first-boot modules again.
  shutdown_command = "${local.sudo} sh -c 'cloud-init clean --logs && shutdown -P now'"
  shutdown_timeout = "5m"
}

build {
  sources = ["source.qemu.aio"]

  # Stand-in for Clearwater's install (see ../build.pkr.hcl), run as root through sudo.
  provisioner "shell" {
    environment_vars = [
      "HOME_DOMAIN=${var.home_domain}",
      "SIGNUP_KEY=${var.signup_key}",
      "ELLIS_API_KEY=${var.ellis_api_key}",
    ]
    execute_command = "chmod +x {{.Path}}; ${local.sudo} env {{.Vars}} {{.Path}}"
    script          = "${abspath(path.root)}/../scripts/clearwater-standin.sh"
  }

  # Last, after Clearwater's install: it disables upstream's auto-config that the packages
  # install, and its reset removes what the build instance's user-data wrote. With passwordless
  # sudo its default execute_command works as is; for sudo that asks for a password, the
  # documented override.
  provisioner "clearwater-firstboot" {
    force_ipv6      = var.force_ipv6
    hostname        = var.hostname
    ipv4_wait       = var.ipv4_wait
    ipv6_timeout    = var.ipv6_timeout
    on_missing_ipv6 = "fallback"
    execute_command = var.ssh_password == "" ? null : "${local.sudo} sh {{.Path}}"
  }
}
