# A Clearwater all-in-one image baked on an OpenStack cloud: packer's openstack builder launches
# an instance of a cloud image, logs in over SSH as the image's default user and provisions with
# sudo, then snapshots the instance as a new image. See README.md.
#
#   source openrc.sh   # or: export OS_CLOUD=mycloud (clouds.yaml)
#   packer init example/openstack/
#   packer build -var source_image_name=debian-12-genericcloud-amd64 -var flavor=m1.medium \
#     -var 'networks=["<network UUID>"]' example/openstack/

packer {
  required_plugins {
    clearwater = {
      version = "~> 0.2"
      source  = "github.com/clearwater-aio/clearwater"
    }
    # v1.1.3 and v1.1.4 cannot SSH over IPv6 (README.md, "IPv6-only build networks").
    openstack = {
      version = "~> 1.1, >= 1.1.4"
      source  = "github.com/hashicorp/openstack"
    }
  }
}

# The build instance's user-data is yours alone (base_user_data), with no Clearwater toggle: the
# image is baked for every instance, and each lab gives its own instances their toggle at boot
# (../userdata.pkr.hcl). A default for all of them is the provisioner's force_ipv6 below.
source "openstack" "aio" {
  source_image_name = var.source_image_name
  flavor            = var.flavor
  networks          = var.networks
  security_groups   = var.security_groups
  image_name        = var.image_name

  user_data      = var.base_user_data != "" ? file(var.base_user_data) : null
  ssh_username   = var.ssh_username
  ssh_ip_version = var.ssh_ip_version
  ssh_timeout    = "15m"
}

build {
  sources = ["source.openstack.aio"]

  # Stand-in for Clearwater's install (see ../build.pkr.hcl): the image's default user has
  # passwordless sudo, as on Debian's and Ubuntu's cloud images.
  provisioner "shell" {
    environment_vars = [
      "HOME_DOMAIN=${var.home_domain}",
      "SIGNUP_KEY=${var.signup_key}",
      "ELLIS_API_KEY=${var.ellis_api_key}",
    ]
    execute_command = "chmod +x {{.Path}}; sudo -n env {{.Vars}} {{.Path}}"
    script          = "${abspath(path.root)}/../scripts/clearwater-standin.sh"
  }

  # Last, after Clearwater's install (default execute_command: sudo -n for a user that is not
  # root). Its reset removes what the build instance's user-data wrote and runs cloud-init clean,
  # so the snapshot is a new instance to cloud-init at its next boot.
  provisioner "clearwater-firstboot" {
    force_ipv6      = var.force_ipv6
    hostname        = var.hostname
    ipv6_timeout    = var.ipv6_timeout
    on_missing_ipv6 = "fallback"
  }
}
