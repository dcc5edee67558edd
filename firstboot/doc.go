// Package firstboot is the library behind the clearwater-firstboot helper: the program that runs at
// every boot of a Clearwater all-in-one image, picks IPv4 or IPv6, and writes Clearwater's config.
//
// Its packages never import the Packer SDK, so the helper binary stays small; the plugin parts
// import them, never the reverse.
//
//   - config:    the helper's own settings (firstboot.yaml and firstboot.d/*.yaml)
//   - userdata:  every cloud-init user-data format, the force_ipv6 toggle's precedence, render and merge
//   - discover:  find the user-data on disk: the --user-data file, a config drive, a NoCloud seed,
//     cloud-init's own copy when it is this instance's
//   - seedfs:    read config-drive and NoCloud seed filesystems (ISO 9660, FAT) without mounting
//   - netstate:  address snapshots, from `ip -j` JSON or live from netlink
//   - policy:    the pure decision: snapshot + toggle -> family, address, reasons
//   - aioconfig: upsert local_config, shared_config and the /etc/hosts block, atomically
//   - rootfs:    every read (size-capped) and atomic write of a file under the root, and the sweep
//     of temp files that a killed run left
//   - exitcode:  the helper's exit statuses, defined once (usage text, provisioner, docs' tables)
//   - status:    the helper's report (its JSON contract), the status file and the state's JSON
//   - live:      wait on netlink events until the addresses the decision needs are usable
//   - dhcpprobe: ask the network what it offers (DHCPv4, DHCPv6, router advertisements)
//   - metadata:  user-data from the OpenStack metadata service (IPv4 and IPv6 link-local)
//   - platform:  whether this machine has a metadata service worth asking, as ds-identify decides
//   - netdata:   OpenStack's network_data.json: which address families the ports have
//   - netconf:   a drop-in for the image's network stack when it did not ask for an offered family
package firstboot
