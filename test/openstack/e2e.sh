#!/bin/bash
# e2e.sh (make openstack-e2e): brings the cloud up (bringup.sh), boots the Debian base image on
# the provider network, runs `packer build example/openstack` against the cloud (the pinned
# packer, our plugin, the pinned packer-plugin-openstack; variables only), boots the image it
# made with the IPv4 lab's and the IPv6 lab's user-data (two at a time), each with and without a
# config drive, and the IPv4 lab's on an IPv6-only network, and checks in each console log that
# the helper chose the family the user-data and the network ask for. Prints the time of each
# phase. teardown.sh runs at the end, on failure too (CW_OS_KEEP=1 keeps the cloud up for a look).
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
net=$(os network show provider -f value -c id)

phase boot-base
step boot-base timeout=1800 "$here/boot.sh" cwos-base 'login:' \
	--image debian-12-genericcloud-amd64 --flavor m1.small --network provider
cat "$CW_OS_LOG/boot-base.log"

phase packer-build
export PACKER_PLUGIN_PATH=$work/plugins PACKER_CONFIG_DIR=$work/config CHECKPOINT_DISABLE=1
mkdir -p "$PACKER_PLUGIN_PATH" "$PACKER_CONFIG_DIR"
# The paths are sh -c's arguments, not part of its script: a path with a space or a quote stays one.
step plugins-install timeout=120 sh -c '
	"$1/bin/packer" plugins install --path "$1/bin/packer-plugin-clearwater" github.com/clearwater-aio/clearwater &&
	"$1/bin/packer" plugins install --path "$1/bin/packer-plugin-openstack" github.com/hashicorp/openstack' sh "$repo"
os image list --name clearwater-aio -f value -c ID | xargs -r timeout 300 openstack image delete
# The build instance's user-data forces IPv6 (build-user-data.yaml): the provisioner's reset must
# remove what it wrote, and say so.
step packer-build timeout=3600 "$repo/bin/packer" build -color=false -var-file="$repo/test/e2e/testdata/keys.pkrvars.hcl" -var "networks=[\"$net\"]" \
	-var flavor=m1.small -var source_image_name=debian-12-genericcloud-amd64 -var ssh_username=debian \
	-var "base_user_data=$here/build-user-data.yaml" "$repo/example/openstack/"
grep -E 'An image was created|Verified|removed /etc/clearwater' "$CW_OS_LOG/packer-build.log"
grep -q 'removed /etc/clearwater/force_ipv6: cloud-init wrote it from the user-data of instance' "$CW_OS_LOG/packer-build.log"
[ "$(os image show clearwater-aio -f value -c status)" = active ]

phase lab-user-data
ud=$work/user-data
step lab-user-data timeout=300 "$repo/bin/packer" build -color=false \
	-only=file.ipv4-lab,file.ipv6-lab -var-file="$repo/test/e2e/testdata/keys.pkrvars.hcl" -var "user_data_directory=$ud" \
	-var "base_user_data=$repo/test/e2e/testdata/report-user-data.yaml" "$repo/example/"
# No toggle at all: the test's report alone.
cp "$repo/test/e2e/testdata/report-user-data.yaml" "$ud/report.yaml"

# lab NAME NETWORK USER-DATA FAMILY FORCED WHY [server create options]: boots the image on
# NETWORK with the lab's user-data, and checks the helper's decision in the report the user-data
# prints on the console: FAMILY, an address that Nova gave the port, force_ipv6 FORCED, and a
# reason matching WHY (an extended regexp; "" for none).
lab() {
	local name=$1 net=$2 data=$3 family=$4 forced=$5 why=$6 out report addr
	shift 6
	# step runs this in a new bash: no errexit, no pipefail. A failed boot fails the lab, and
	# leaves no console log of an earlier run to be read as this one's.
	set -o pipefail
	rm -f "$CW_OS_LOG/$name.console" "$CW_OS_LOG/$name.boot"
	# tee: the step's log shows the boot as it goes, not only once it ends.
	"$here/boot.sh" "$name" '===CW-E2E-END===' --image clearwater-aio --flavor m1.small \
		--network "$net" --user-data "$data" "$@" | tee "$CW_OS_LOG/$name.boot" || return 1
	out=$(cat "$CW_OS_LOG/$name.boot")
	report=$(sed -n '/===CW-E2E-BEGIN===/,/===CW-E2E-END===/p' "$CW_OS_LOG/$name.console" | tr -d '\r')
	echo "$report"
	addr=$(sed -nE "s/^$family ([^ ]+) on .*/\1/p" <<<"$report" | head -n 1)
	[ -n "$addr" ] || { echo "$name: want the helper to choose $family"; return 1; }
	grep -q "ACTIVE in .*'$addr'" <<<"$out" || { echo "$name: chose $addr, which is not the port's"; return 1; }
	grep -q "^force_ipv6: $forced " <<<"$report" || { echo "$name: want force_ipv6: $forced"; return 1; }
	[ -z "$why" ] || grep -Eq "^  because: .*$why" <<<"$report" || { echo "$name: no reason matches /$why/"; return 1; }
}
export -f lab

# labs PHASE LAB...: boots the LABs at once (two at most: a TCG guest takes a core), each a
# '|'-separated NAME|NETWORK|LAB|FAMILY|FORCED|WHY|CONFIG-DRIVE, and prints their logs.
labs() {
	phase "$1"
	shift
	local spec pids=() names=() rc=0 p n name net lab family forced why drive
	for spec in "$@"; do
		IFS='|' read -r name net lab family forced why drive <<<"$spec"
		step "$name" timeout=1800 lab "$name" "$net" "$ud/$lab.yaml" "$family" "$forced" "$why" \
			--config-drive "$drive" &
		pids+=($!) names+=("$name")
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	for n in "${names[@]}"; do cat "$CW_OS_LOG/$n.log"; done
	return $rc
}

# The dual-stack network: the IPv4 lab chooses IPv4, the IPv6 lab (forced) IPv6, whether
# cloud-init and the helper find the user-data through the metadata service or a config drive.
labs labs-metadata 'cwos-ipv4-metadata|provider|ipv4-lab|ipv4|false||False' \
	'cwos-ipv6-metadata|provider|ipv6-lab|ipv6|true||False'
# No toggle in the instance's user-data, and the build instance's (forced) removed by the reset:
# IPv4, by default.
labs lab-no-toggle 'cwos-no-toggle|provider|report|ipv4|false|IPv6 not forced \(the default\)|False'
labs labs-config-drive 'cwos-ipv4-config-drive|provider|ipv4-lab|ipv4|false|IPv4 was usable|True' \
	'cwos-ipv6-config-drive|provider|ipv6-lab|ipv6|true|IPv6 was usable|True'
# The IPv6-only network: not forced, the IPv4 lab's instance takes IPv6, at once, since the
# config drive's network_data.json says no IPv4 is coming. (cloud-init 22.4 reaches the metadata
# service over IPv4 only: an IPv6-only instance needs the config drive.)
labs lab-ipv6-only 'cwos-ipv4-ipv6-only|provider6|ipv4-lab|ipv6|false|none is coming: an IPv6-only port|True'
