# Debian 12's cloud image, fetched and checked by the builder (packer's download cache keeps it):
#
#   sudo packer build -var-file=example/debian.pkrvars.hcl \
#     -var signup_key=... -var ellis_api_key=... example/
base_image          = "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2"
base_image_checksum = "file:https://cloud.debian.org/images/cloud/bookworm/latest/SHA512SUMS"
