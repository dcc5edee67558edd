
# TestSysvinitBoot appends this to its copy of example/scripts/clearwater-standin.sh: a stand-in
# for clearwater-infrastructure's LSB script, a service that reads Clearwater's config when it
# starts. Its header names no dependency on the helper: only the helper's X-Start-Before, as
# insserv orders it, puts the helper first. It records the local_ip it read.
cat >/etc/init.d/clearwater-infrastructure <<'SCRIPT'
#!/bin/sh
### BEGIN INIT INFO
# Provides:          clearwater-infrastructure
# Required-Start:    $remote_fs
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:
# Short-Description: e2e stand-in: reads Clearwater's local_config at start
### END INIT INFO
case "${1:-}" in
start)
	mkdir -p /var/lib/cw-e2e
	local_ip=$(sed -n 's/^local_ip=//p' /etc/clearwater/local_config | tail -n1)
	echo "local_ip=$local_ip" >/var/lib/cw-e2e/reader
	;;
esac
exit 0
SCRIPT
chmod 0755 /etc/init.d/clearwater-infrastructure
update-rc.d clearwater-infrastructure defaults
