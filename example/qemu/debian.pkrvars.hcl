# Debian 12's cloud image, booted by packer's qemu builder (which downloads and checks it):
#
#   packer build -var-file=example/qemu/debian.pkrvars.hcl -var ssh_private_key_file=$HOME/.ssh/id_ed25519 \
#     -var signup_key=... -var ellis_api_key=... example/qemu/
base_image          = "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2"
base_image_checksum = "file:https://cloud.debian.org/images/cloud/bookworm/latest/SHA512SUMS"
