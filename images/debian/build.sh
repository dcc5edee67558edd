#!/bin/bash
# build.sh builds a bootable Debian qcow2 (BIOS/MBR, one ext4 root partition, GRUB, the cloud
# kernel, systemd, cloud-init driving systemd-networkd, serial console on ttyS0) from Debian's
# packages, without loop devices or mounts of its own (debootstrap mounts /proc and /sys in the
# new root while it runs; the exit trap unmounts whatever is left there, on failure too).
#
#   images/debian/build.sh [--install-deps] [--force] [--variant cloud]
#
# --variant NAME adds variants/NAME/packages and variants/NAME/overlay on top of the base:
# "cloud" is what a cloud image has besides (openssh-server, sudo, cloud-init's default user
# "debian" with passwordless sudo), for builds that log in over SSH (packer's qemu builder).
#
# The image is cached in $CLEARWATER_IMAGE_CACHE (default: <repo>/.cache/images) under a name
# made of a hash of this directory's files (this script, the package list, the overlay, the
# variant's files; not the other variants') and the suite, so a second run with the same inputs
# only prints the path. Progress goes to stderr; the last line on stdout is the image's path.
#
# Environment:
#   CLEARWATER_IMAGE_CACHE  where images are kept
#   DEBIAN_SUITE            default bookworm (part of the cache key)
#   DEBIAN_MIRROR           default: the first mirror in /etc/apt/sources.list* serving the suite
#   DEBIAN_IMAGE_SIZE       virtual disk size, default 2G (part of the cache key)
#   DEBIAN_IMAGE_TMPDIR     scratch space, default /dev/shm (about 2 GB while building)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
suite=${DEBIAN_SUITE:-bookworm}
size=${DEBIAN_IMAGE_SIZE:-2G}
cache=${CLEARWATER_IMAGE_CACHE:-$repo/.cache/images}
arch=amd64
part_start=2048 # sectors: 1 MiB, which leaves room for GRUB's core.img before the partition

log() { printf '%s build.sh: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage="usage: build.sh [--install-deps] [--force] [--variant NAME]"
install_deps=false
force=false
variant=
while (($#)); do
	case $1 in
	--install-deps) install_deps=true ;;
	--force) force=true ;;
	--variant)
		(($# > 1)) || die "--variant needs a name ($usage)"
		variant=$2
		shift
		;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
	*) die "unknown argument $1 ($usage)" ;;
	esac
	shift
done
if [[ -n $variant ]]; then
	[[ $variant =~ ^[a-z0-9-]+$ && -f $here/variants/$variant/packages ]] ||
		die "--variant $variant: no $here/variants/$variant/packages (variants: $(ls "$here/variants" | xargs))"
fi

# check_tools fails, naming the Debian package, when a tool is missing; with --install-deps it
# installs the missing packages instead.
check_tools() {
	local -A need=(
		[debootstrap]=debootstrap [mkfs.ext4]=e2fsprogs [sfdisk]=fdisk [qemu-img]=qemu-utils
		[grub-mkimage]=grub-common [/usr/lib/grub/i386-pc/boot.img]=grub-pc-bin [flock]=util-linux
		[sha256sum]=coreutils [chroot]=coreutils
	)
	local tool path missing=()
	for tool in "${!need[@]}"; do
		if [[ $tool == /* ]]; then [[ -e $tool ]] && continue
		else
			# command -v may name a file that is not executable: check that it is.
			path=$(PATH=$PATH:/usr/sbin:/sbin command -v "$tool") && [[ -x $path ]] && continue
		fi
		missing+=("${need[$tool]}")
	done
	((${#missing[@]} == 0)) && return 0
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	if ! $install_deps; then
		die "missing tools; install the Debian packages: apt-get install ${missing[*]} (or run with --install-deps)"
	fi
	log "installing ${missing[*]}"
	apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
		{ apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
}

# apt_mirror prints the first URI in the host's apt sources (deb822 .sources or one-line .list)
# that serves $suite.
apt_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -e $f ]] || continue
		awk -v suite="$suite" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && enabled != "no" && uri != "")
					{ print uri; found = 1; exit }
				types = suites = uri = enabled = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
			/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
			/^URIs:/ { uri = $2 }
			/^Enabled:/ { enabled = tolower($2) }
			END { if (!found) flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -e $f ]] || continue
		# deb [options] URI SUITE COMPONENTS...
		sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2 }'
	done
}

# inputs_hash hashes everything that decides the image's content.
inputs_hash() {
	{
		echo "suite=$suite arch=$arch size=$size"
		(cd "$here" && find . -path ./variants -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
		[[ -z $variant ]] || (cd "$here" && find "./variants/$variant" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
	} | sha256sum | cut -c1-16
}

check_tools
export PATH=$PATH:/usr/sbin:/sbin
name="debian-$suite-$arch${variant:+-$variant}-$(inputs_hash).qcow2"
image="$cache/$name"
if [[ -s $image ]] && ! $force; then
	log "cached: $image"
	echo "$image"
	exit 0
fi

[[ $(id -u) == 0 ]] || die "must run as root (debootstrap and chroot need it)"
mkdir -p "$cache"
# One build at a time per cache (a lock on the directory itself, so no lock file is left):
# concurrent test runs wait here, then find the image cached.
exec 9<"$cache"
flock -w 1800 9 || die "timed out waiting for another build in $cache"
if [[ -s $image ]] && ! $force; then
	log "cached (built meanwhile): $image"
	echo "$image"
	exit 0
fi

mirror=${DEBIAN_MIRROR:-$(apt_mirror | head -n1)}
[[ -n $mirror ]] || die "no apt source for suite $suite in /etc/apt/sources.list*; set DEBIAN_MIRROR"

# dpkg fsyncs every file it unpacks: on tmpfs that costs nothing (the root is ~0.7 GB in RAM).
workbase=${DEBIAN_IMAGE_TMPDIR:-/dev/shm}
[[ -d $workbase && -w $workbase ]] || workbase=${TMPDIR:-/tmp}
work=$(mktemp -d "$workbase/debian-image.XXXXXX")
root=$work/root
cleanup() {
	local rc=$? m
	# debootstrap mounts proc, sys... inside the target; never leave one behind (deepest first).
	for m in $(awk -v r="$root" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf "$work"
	((rc == 0)) || log "failed (exit $rc)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

packages=$(sed -e 's/#.*//' "$here/packages" ${variant:+"$here/variants/$variant/packages"} | xargs | tr ' ' ,)
log "debootstrap $suite from $mirror (+ $packages)"
if ! debootstrap --arch="$arch" --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >&2; then
	tail -n 40 "$root/debootstrap/debootstrap.log" >&2 || true
	die "debootstrap failed (the end of its log is above)"
fi

log "configuring the root"
uuid=$(cat /proc/sys/kernel/random/uuid)
cp -a "$here/overlay/." "$root/"
if [[ -n $variant && -d $here/variants/$variant/overlay ]]; then cp -a "$here/variants/$variant/overlay/." "$root/"; fi
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
echo "UUID=$uuid / ext4 rw,discard,errors=remount-ro 0 1" >"$root/etc/fstab"
echo debian >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# cloud-init's package writes its datasource list from debconf: keep the two in step.
echo 'cloud-init cloud-init/datasources multiselect NoCloud, ConfigDrive, OpenStack, None' |
	in_root debconf-set-selections
in_root dpkg-reconfigure -fnoninteractive cloud-init >&2
in_root systemctl enable systemd-networkd.service >&2
# An empty machine-id makes every instance generate its own at first boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
in_root apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old "$root"/var/log/*.log \
	"$root"/var/log/apt/* "$root/debootstrap"
[[ -e $root/vmlinuz && -e $root/initrd.img ]] || die "no /vmlinuz or /initrd.img in the root"

log "GRUB (BIOS) files"
mkdir -p "$root/boot/grub"
sed "s/@ROOT_UUID@/$uuid/g" "$here/grub.cfg.in" >"$root/boot/grub/grub.cfg"
cp -r /usr/lib/grub/i386-pc "$root/boot/grub/"
cat >"$work/early.cfg" <<EOF
search.fs_uuid $uuid root
set prefix=(\$root)/boot/grub
EOF
grub-mkimage -O i386-pc -o "$work/core.img" -c "$work/early.cfg" -p /boot/grub \
	biosdisk part_msdos ext2 search_fs_uuid search normal configfile linux echo test serial terminal
(($(stat -c %s "$work/core.img") < (part_start - 1) * 512)) || die "core.img does not fit before the partition"

log "disk: $size, MBR, ext4 root UUID=$uuid"
disk=$work/disk.raw
truncate -s "$size" "$disk"
echo "start=$part_start, type=83, bootable" | sfdisk --quiet --label dos "$disk" >&2
part_bytes=$(($(stat -c %s "$disk") - part_start * 512))
MKE2FS_CONFIG=$here/mke2fs.conf mkfs.ext4 -q -F -t ext4 -L debian-root -U "$uuid" \
	-E offset=$((part_start * 512)) -d "$root" "$disk" $((part_bytes / 1024))k >&2
# boot.img's code goes before the partition table (first 440 bytes); core.img right after the MBR:
# boot.img's default kernel sector (1) and core.img's own block list already point there.
dd if=/usr/lib/grub/i386-pc/boot.img of="$disk" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$disk" bs=512 seek=1 conv=notrunc status=none

log "qcow2 (zstd-compressed)"
qemu-img convert -c -O qcow2 -o compression_type=zstd "$disk" "$work/$name"
mv "$work/$name" "$image"
log "done: $image ($(du -h "$image" | cut -f1) on disk, $size virtual)"
echo "$image"
