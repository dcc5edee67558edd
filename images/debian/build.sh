#!/bin/bash
# build.sh builds a bootable Debian qcow2 (BIOS/MBR, one ext4 root partition, GRUB, the cloud
# kernel, systemd, cloud-init driving systemd-networkd, serial console on ttyS0) from Debian's
# packages, without loop devices or mounts of its own (debootstrap mounts /proc and /sys in the
# new root while it runs; the exit trap unmounts whatever is left there, on failure too).
#
#   images/debian/build.sh [--install-deps] [--force] [--variant cloud] [--init systemd|sysvinit] [--arch amd64|arm64]
#
# --variant NAME adds variants/NAME/packages and variants/NAME/overlay on top of the base:
# "cloud" is what a cloud image has besides (openssh-server, sudo, cloud-init's default user
# "debian" with passwordless sudo), for builds that log in over SSH (packer's qemu builder).
# --init sysvinit: sysvinit-core is PID 1 (no systemd), cloud-init's LSB scripts, ifupdown
#   (cloud-init renders /etc/network/interfaces.d; the kernel does SLAAC); packages.sysvinit.
# --arch arm64: a foreign-architecture root through qemu-user-static and binfmt_misc, the arm64
#   cloud kernel, GPT with an EFI system partition and GRUB for arm64-efi at the removable path
#   (EFI/BOOT/BOOTAA64.EFI), serial console on ttyAMA0; packages.arm64. Boots in
#   qemu-system-aarch64 -M virt with the firmware of Debian's qemu-efi-aarch64.
# Each option is part of the cache key and of the image's name.
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
init=systemd
part_start=2048 # sectors: 1 MiB, which leaves room for GRUB's core.img before the partition

log() { printf '%s build.sh: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage="usage: build.sh [--install-deps] [--force] [--variant NAME] [--init systemd|sysvinit] [--arch amd64|arm64]"
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
	--init=* | --arch=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
	--init) (($# > 1)) || die "--init needs a value ($usage)"; init=$2; shift ;;
	--arch) (($# > 1)) || die "--arch needs a value ($usage)"; arch=$2; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
	*) die "unknown argument $1 ($usage)" ;;
	esac
	shift
done
if [[ -n $variant ]]; then
	[[ $variant =~ ^[a-z0-9-]+$ && -f $here/variants/$variant/packages ]] ||
		die "--variant $variant: no $here/variants/$variant/packages (variants: $(ls "$here/variants" | xargs))"
fi
case $init in systemd | sysvinit) ;; *) die "--init $init: want systemd or sysvinit" ;; esac
case $arch in amd64 | arm64) ;; *) die "--arch $arch: want amd64 or arm64" ;; esac

# check_tools fails, naming the Debian package, when a tool is missing; with --install-deps it
# installs the missing packages instead.
check_tools() {
	local -A need=(
		[debootstrap]=debootstrap [mkfs.ext4]=e2fsprogs [sfdisk]=fdisk [qemu-img]=qemu-utils
		[grub-mkimage]=grub-common [/usr/lib/grub/i386-pc/boot.img]=grub-pc-bin [flock]=util-linux
		[sha256sum]=coreutils [chroot]=coreutils
	)
	if [[ $arch == arm64 ]]; then
		need+=([mkfs.fat]=dosfstools [mcopy]=mtools)
		[[ $(uname -m) == aarch64 ]] || need+=([qemu-aarch64-static]=qemu-user-static [update-binfmts]=binfmt-support)
	fi
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
		echo "suite=$suite arch=$arch size=$size init=$init"
		# An option's own files (variants/<name>/, overlay-<option>, packages.<option>) count only
		# for images built with it, so changing one does not invalidate the others' images.
		(cd "$here" && find . -path ./variants -prune -o -type f ! -path './overlay-*' ! -name 'packages.*' -print0 |
			LC_ALL=C sort -z | xargs -0 sha256sum)
		[[ -z $variant ]] || (cd "$here" && find "./variants/$variant" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
		[[ $init == systemd ]] || (cd "$here" && find "packages.$init" "overlay-$init" -type f -print0 |
			LC_ALL=C sort -z | xargs -0 sha256sum)
		[[ $arch == amd64 ]] || (cd "$here" && sha256sum "packages.$arch")
	} | sha256sum | cut -c1-16
}

check_tools
export PATH=$PATH:/usr/sbin:/sbin
# The default image keeps its old name; each option from the default adds a part.
name="debian-$suite-$arch$([[ $init == systemd ]] || echo "-$init")${variant:+-$variant}-$(inputs_hash).qcow2"
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

# package_list prints the package list: packages, then for each option away from the default its
# packages.<option> file, where a line "-name" takes a package out and "name" adds one.
package_list() {
	local extra=() f
	[[ $init == systemd ]] || extra+=("$here/packages.$init")
	[[ $arch == amd64 ]] || extra+=("$here/packages.$arch")
	[[ -z $variant ]] || extra+=("$here/variants/$variant/packages")
	sed -e 's/#.*//' "$here/packages" "${extra[@]}" | xargs -n1 | awk '
		/^-/ { drop[substr($0, 2)] = 1; next }
		{ order[++n] = $0 }
		END { for (i = 1; i <= n; i++) if (!(order[i] in drop) && !seen[order[i]]++) print order[i] }'
}

# check_binfmt fails, saying how to fix it, when this host cannot run the arm64 root's programs.
check_binfmt() {
	[[ $arch == arm64 && $(uname -m) != aarch64 ]] || return 0
	local dir=/proc/sys/fs/binfmt_misc
	mountpoint -q "$dir" || die "binfmt_misc is not mounted: mount -t binfmt_misc binfmt_misc $dir && update-binfmts --enable (make deps does both)"
	# The kernel matches the handler by the ELF header's magic; Debian names the file qemu-aarch64.
	grep -qs '^magic 7f454c460201010000000000000000000200b700' "$dir"/* &&
		grep -qsx enabled "$(grep -ls '^magic 7f454c460201010000000000000000000200b700' "$dir"/* | head -n1)" ||
		die "no enabled binfmt_misc handler for aarch64 ELF: apt-get install qemu-user-static binfmt-support && update-binfmts --enable (make deps does both)"
}
check_binfmt

packages=$(package_list | paste -sd,)
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
if [[ $init == systemd ]]; then
	in_root systemctl enable systemd-networkd.service >&2
else
	cp -a "$here/overlay-$init/." "$root/"
	# The overlay's insserv override moves cloud-init-local to rcS, before networking.
	in_root update-rc.d -f cloud-init-local remove >&2
	in_root update-rc.d cloud-init-local defaults >&2
	# cloud-init's LSB scripts, enabled by their postinst: check, since the image boots without
	# them otherwise (no network config, no user-data).
	ls "$root"/etc/rc2.d/S[0-9][0-9]cloud-init >/dev/null || die "cloud-init's LSB script is not enabled in /etc/rc2.d"
	# insserv reports a dependency loop but exits 0: check the order it made.
	local_seq=$(ls "$root/etc/rcS.d" | sed -n 's/^S\([0-9][0-9]\)cloud-init-local$/\1/p')
	net_seq=$(ls "$root/etc/rcS.d" | sed -n 's/^S\([0-9][0-9]\)networking$/\1/p')
	[[ -n $local_seq && -n $net_seq ]] && ((10#$local_seq < 10#$net_seq)) ||
		die "insserv did not start cloud-init-local (S${local_seq:-none}) before networking (S${net_seq:-none}) in /etc/rcS.d"
fi
# An empty machine-id makes every instance generate its own at first boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
in_root apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old "$root"/var/log/*.log \
	"$root"/var/log/apt/* "$root/debootstrap"
[[ -e $root/vmlinuz && -e $root/initrd.img ]] || die "no /vmlinuz or /initrd.img in the root"

mkext4() { # mkext4 DISK START_SECTOR SECTORS: the root filesystem, filled from $root
	MKE2FS_CONFIG=$here/mke2fs.conf mkfs.ext4 -q -F -t ext4 -L debian-root -U "$uuid" \
		-E offset=$(($2 * 512)) -d "$root" "$1" $(($3 / 2))k >&2
}

# bios_disk writes $disk: MBR, GRUB for BIOS, one ext4 partition.
bios_disk() {
	log "GRUB (BIOS) files"
	mkdir -p "$root/boot/grub"
	sed "s/@ROOT_UUID@/$uuid/g" "$here/grub.cfg.in" >"$root/boot/grub/grub.cfg"
	cp -r /usr/lib/grub/i386-pc "$root/boot/grub/"
	grub-mkimage -O i386-pc -o "$work/core.img" -c "$work/early.cfg" -p /boot/grub \
		biosdisk part_msdos ext2 search_fs_uuid search normal configfile linux echo test serial terminal
	(($(stat -c %s "$work/core.img") < (part_start - 1) * 512)) || die "core.img does not fit before the partition"

	log "disk: $size, MBR, ext4 root UUID=$uuid"
	truncate -s "$size" "$disk"
	echo "start=$part_start, type=83, bootable" | sfdisk --quiet --label dos "$disk" >&2
	mkext4 "$disk" "$part_start" $(($(stat -c %s "$disk") / 512 - part_start))
	# boot.img's code goes before the partition table (first 440 bytes); core.img right after the MBR:
	# boot.img's default kernel sector (1) and core.img's own block list already point there.
	dd if=/usr/lib/grub/i386-pc/boot.img of="$disk" bs=440 count=1 conv=notrunc status=none
	dd if="$work/core.img" of="$disk" bs=512 seek=1 conv=notrunc status=none
}

# efi_disk writes $disk: GPT, an EFI system partition (FAT16, 32 MiB) holding GRUB for
# arm64-efi at the removable-media path (no NVRAM entry needed), then the ext4 root.
efi_disk() {
	local esp_sectors=65536 root_start sectors
	root_start=$((part_start + esp_sectors))
	log "GRUB (arm64-efi) files"
	mkdir -p "$root/boot/grub"
	sed "s/@ROOT_UUID@/$uuid/g" "$here/grub-efi.cfg.in" >"$root/boot/grub/grub.cfg"
	cp -r "$root/usr/lib/grub/arm64-efi" "$root/boot/grub/"
	grub-mkimage -O arm64-efi -d "$root/usr/lib/grub/arm64-efi" -o "$work/BOOTAA64.EFI" -c "$work/early.cfg" \
		-p /boot/grub part_gpt ext2 fat search_fs_uuid search normal configfile linux echo test terminal

	log "disk: $size, GPT, EFI system partition, ext4 root UUID=$uuid"
	truncate -s "$size" "$disk"
	sectors=$(($(stat -c %s "$disk") / 512 - root_start - 34)) # 34: the backup GPT at the end
	printf 'label: gpt\nstart=%d, size=%d, type=U, name=EFI\nstart=%d, size=%d, type=L, name=root\n' \
		"$part_start" "$esp_sectors" "$root_start" "$sectors" | sfdisk --quiet "$disk" >&2
	mkfs.fat -F 16 -n EFI --offset "$part_start" "$disk" $((esp_sectors / 2)) >&2
	local esp=$disk@@$((part_start * 512))
	MTOOLS_SKIP_CHECK=1 mmd -i "$esp" ::/EFI ::/EFI/BOOT
	MTOOLS_SKIP_CHECK=1 mcopy -i "$esp" "$work/BOOTAA64.EFI" ::/EFI/BOOT/BOOTAA64.EFI
	mkext4 "$disk" "$root_start" "$sectors"
}

cat >"$work/early.cfg" <<EOF
search.fs_uuid $uuid root
set prefix=(\$root)/boot/grub
EOF
disk=$work/disk.raw
if [[ $arch == arm64 ]]; then efi_disk; else bios_disk; fi

# zlib, the builder's default compression (and that of Debian's and Ubuntu's cloud images): a
# build from this image then writes only the clusters it changed over a copy of it instead of
# compressing the whole image again (docs/builders/chroot.mdx, step 9).
log "qcow2 (zlib-compressed)"
qemu-img convert -c -O qcow2 "$disk" "$work/$name"
mv "$work/$name" "$image"
log "done: $image ($(du -h "$image" | cut -f1) on disk, $size virtual)"
echo "$image"
