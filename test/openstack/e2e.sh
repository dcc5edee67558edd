#!/bin/bash
# e2e.sh (make openstack-e2e): brings the cloud up (bringup.sh), boots the Debian base image on
# the provider network, runs `packer build example/openstack` against the cloud (the pinned
# packer, our plugin, the pinned packer-plugin-openstack; variables only), boots the image it
# made with the IPv4 lab's and the IPv6 lab's user-data, each with and without a config drive,
# and checks in each console log that the helper chose the family the user-data asks for. Prints
# the time of each phase. teardown.sh runs at the end, on failure too (CW_OS_KEEP=1 keeps the
# cloud up for a look).
#
# Needs bin/packer, bin/packer-plugin-clearwater and bin/packer-plugin-openstack
# (make build packer peer-plugins). About 0.8 GB of packages on a fresh machine.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
export CLEARWATER_IMAGE_CACHE=${CLEARWATER_IMAGE_CACHE:-$repo/.cache/images}
work=$repo/.cache/openstack-e2e
export here
t_all=$SECONDS

finish() {
	local rc=$?
	phase ""
	if [ "${CW_OS_KEEP:-}" = 1 ]; then
		echo "CW_OS_KEEP=1: the cloud stays up (test/openstack/teardown.sh stops it)"
	else
		"$here/teardown.sh" || rc=1
	fi
	echo "openstack-e2e: $([ $rc -eq 0 ] && echo PASS || echo FAIL) in $((SECONDS - t_all))s (logs: $CW_OS_LOG)"
	exit $rc
}
trap finish EXIT

"$here/bringup.sh"
. "$CW_OS_STATE/admin-openrc"
net=$(openstack network show provider -f value -c id)

phase boot-base
step boot-base timeout=1800 "$here/boot.sh" cwos-base 'login:' \
	--image debian-12-genericcloud-amd64 --flavor m1.small --network provider
cat "$CW_OS_LOG/boot-base.log"

phase packer-build
export PACKER_PLUGIN_PATH=$work/plugins PACKER_CONFIG_DIR=$work/config CHECKPOINT_DISABLE=1
mkdir -p "$PACKER_PLUGIN_PATH" "$PACKER_CONFIG_DIR"
step plugins-install timeout=120 sh -c "
	$repo/bin/packer plugins install --path $repo/bin/packer-plugin-clearwater github.com/clearwater-aio/clearwater &&
	$repo/bin/packer plugins install --path $repo/bin/packer-plugin-openstack github.com/hashicorp/openstack"
openstack image list --name clearwater-aio -f value -c ID | xargs -r openstack image delete
step packer-build timeout=3600 "$repo/bin/packer" build -color=false -var "networks=[\"$net\"]" \
	-var flavor=m1.small -var source_image_name=debian-12-genericcloud-amd64 -var ssh_username=debian \
	"$repo/example/openstack/"
grep -E 'An image was created|Verified' "$CW_OS_LOG/packer-build.log"
[ "$(openstack image show clearwater-aio -f value -c status)" = active ]

phase lab-user-data
ud=$work/user-data
step lab-user-data timeout=300 "$repo/bin/packer" build -color=false \
	-only=file.ipv4-lab,file.ipv6-lab -var "user_data_directory=$ud" \
	-var "base_user_data=$repo/test/e2e/testdata/report-user-data.yaml" "$repo/example/"

# lab NAME USER-DATA FAMILY [server create options]: boots the image with the lab's user-data
# and checks the helper's decision in the report the user-data prints on the console.
lab() {
	local name=$1 data=$2 family=$3
	shift 3
	"$here/boot.sh" "$name" '===CW-E2E-END===' --image clearwater-aio --flavor m1.small \
		--network provider --user-data "$data" "$@"
	local report
	report=$(sed -n '/===CW-E2E-BEGIN===/,/===CW-E2E-END===/p' "$CW_OS_LOG/$name.console" | tr -d '\r')
	echo "$report"
	grep -Eq "^$family [^ ]+ on " <<<"$report" || { echo "$name: want the helper to choose $family"; return 1; }
}
export -f lab

for l in ipv4:ipv4 ipv6:ipv6; do
	for cd in metadata config-drive; do
		phase "lab-${l%%:*}-$cd"
		opt=()
		[ $cd = config-drive ] && opt=(--config-drive True)
		step "lab-${l%%:*}-$cd" timeout=1800 lab "cwos-${l%%:*}-$cd" "$ud/${l%%:*}-lab.yaml" "${l#*:}" "${opt[@]}"
		cat "$CW_OS_LOG/lab-${l%%:*}-$cd.log"
	done
done
