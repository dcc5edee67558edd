# The user-data of two labs that boot the same image: an IPv4 lab, and a lab where IPv6 is forced.
# The clearwater-userdata data source merges the toggle into your own user-data
# (base-user-data.yaml, or var.base_user_data), and the core file builder writes each result
# where you can hand it to an instance:
#
#   openstack server create --image clearwater-aio --user-data output-clearwater-user-data/ipv6-lab.yaml ...
#
# or to Heat, Terraform or a NoCloud seed (cloud-localds seed.iso ipv6-lab.yaml): to the instances
# of the image, not to the instance that builds it (the image is baked for every lab; a default
# for all of them is the provisioner's force_ipv6).

# An IPv4 lab: never forced, even if a later image bakes force_ipv6 = true.
data "clearwater-userdata" "ipv4_lab" {
  force_ipv6     = false
  base_user_data = file(var.base_user_data != "" ? abspath(var.base_user_data) : "${abspath(path.root)}/base-user-data.yaml")
}

# An IPv6 lab: IPv6 forced. If no IPv6 comes within the image's ipv6_timeout, the node still
# boots on IPv4 and its status says "degraded" (on_missing_ipv6 = "fail" would write nothing).
data "clearwater-userdata" "ipv6_lab" {
  force_ipv6      = true
  on_missing_ipv6 = "fallback"
  base_user_data  = file(var.base_user_data != "" ? abspath(var.base_user_data) : "${abspath(path.root)}/base-user-data.yaml")
}

source "file" "user_data" {}

build {
  source "file.user_data" {
    name    = "ipv4-lab"
    content = data.clearwater-userdata.ipv4_lab.user_data
    target  = "${var.user_data_directory}/ipv4-lab.yaml"
  }
  source "file.user_data" {
    name    = "ipv6-lab"
    content = data.clearwater-userdata.ipv6_lab.user_data
    target  = "${var.user_data_directory}/ipv6-lab.yaml"
  }
}
