#!/bin/bash
# base-image.sh: the Debian base image with sshd and the default user "debian" (build.sh
# --variant cloud, cached in $CLEARWATER_IMAGE_CACHE) in Glance under the name the example's
# source_image_name defaults to. Skips the upload when an active image of that name exists.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
name=${CW_OS_BASE_IMAGE:-debian-12-genericcloud-amd64}
img=$("$here/../../images/debian/build.sh" --variant cloud | tail -n 1)
if [ "$(openstack image show "$name" -f value -c status 2>/dev/null)" = active ]; then
	echo "$name: already active"
	exit 0
fi
openstack image list --name "$name" -f value -c ID | xargs -r openstack image delete
t0=$SECONDS
openstack image create --disk-format qcow2 --container-format bare --public --file "$img" \
	--property hw_disk_bus=virtio --property hw_vif_model=virtio "$name" -f value -c id
echo "uploaded $img as $name in $((SECONDS - t0))s"
