# Debian 12's cloud image as the build instance, once it is in your cloud's Glance (upload it as
# docs/publishing.md says, from
# https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2):
#
#   packer build -var-file=example/openstack/debian.pkrvars.hcl -var 'networks=["<network UUID>"]' \
#     -var signup_key=... -var ellis_api_key=... example/openstack/
source_image_name = "debian-12-genericcloud-amd64"
ssh_username      = "debian"
flavor            = "m1.small"
