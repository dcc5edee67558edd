#!/bin/bash
# bringup.sh: a single-node OpenStack Zed from Debian 12's packages on this machine (no systemd,
# no AppArmor, no KVM): MariaDB, RabbitMQ, memcached, Keystone, Glance, Placement, Nova on
# libvirt/QEMU in TCG mode, Neutron (ML2 flat + linuxbridge) on veth pairs of its own.
#
#   test/openstack/bringup.sh [--until PHASE]     PHASE: install libvirt keystone nova neutron
#
# Idempotent: a second run skips what is done and starts what is stopped. Every step runs under
# a timeout and is named when it fails (its log is in $CW_OS_STATE/log/STEP.log); each phase
# prints its time. teardown.sh stops everything this started. Nothing listens beyond this
# machine's own addresses and nothing routes off it: the provider network is the veth pair
# cwos-host/cwos-prov, 198.51.100.0/24 and 2001:db8:cafe::/64, the IPv6-only provider6 the pair
# cwos-host6/cwos-prov6, 2001:db8:cafe:6::/64 (documentation ranges).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
phases="install libvirt keystone nova neutron"
until_phase=neutron
if [ $# -gt 0 ]; then
	[ "$1" = --until ] && [ $# -eq 2 ] || { echo "usage: $0 [--until PHASE]   PHASE: $phases" >&2; exit 2; }
	case " $phases " in
	*" $2 "*) until_phase=$2 ;;
	*) echo "bringup.sh: --until $2: no such phase; one of: $phases" >&2; exit 2 ;;
	esac
fi
. "$here/lib.sh"
. "$here/hostops.sh"

PW=cw-openstack               # every password of this throwaway, loopback-only cloud
SECRET=cw-metadata-secret     # the metadata proxy's shared secret
CTL=127.0.0.1
KS=http://$CTL:5000
DB="mysql+pymysql://%s:$PW@$CTL/%s"
REGION=RegionOne
ini=$here/iniset.py

# as USER CMD...: runs CMD as a service user (the packages' files belong to it).
as() { local u=$1; shift; runuser -u "$u" -- "$@"; }

# svc NAME...: starts the init scripts NAME... that are not running, and restarts those whose
# /etc/PROJECT has changed since they started.
svc() {
	local s
	for s in "$@"; do
		if ! running "$s"; then
			/etc/init.d/"$s" start
		elif [ -n "$(find "/etc/${s%%-*}" -newer "$(pidfile "$s")" -type f 2>/dev/null | head -n 1)" ]; then
			/etc/init.d/"$s" restart
		fi
	done
}

# authtoken FILE USER: the [keystone_authtoken] of a service that checks tokens.
authtoken() {
	"$ini" "$1" keystone_authtoken www_authenticate_uri $KS keystone_authtoken auth_url $KS \
		keystone_authtoken memcached_servers $CTL:11211 keystone_authtoken auth_type password \
		keystone_authtoken project_domain_name Default keystone_authtoken user_domain_name Default \
		keystone_authtoken project_name service keystone_authtoken username "$2" \
		keystone_authtoken password $PW keystone_authtoken region_name $REGION
}

# client FILE SECTION USER: a section through which a service calls another (nova's [placement]...).
client() {
	"$ini" "$1" "$2" auth_url $KS "$2" auth_type password "$2" project_domain_name Default \
		"$2" user_domain_name Default "$2" project_name service "$2" username "$3" "$2" password $PW \
		"$2" region_name $REGION
}

# uwsgi_ini FILE PROCESSES: fewer uwsgi processes (Debian's start 8-16 each); no AppArmor plugin
# (it exits when aa_change_profile fails, and this kernel has no AppArmor).
uwsgi_ini() {
	local t
	t=$(sed -E -e "s/^processes = .*/processes = $2/" -e 's/^threads = .*/threads = 4/' \
		-e 's/^plugins = python3,apparmor/plugins = python3/' -e '/^apparmor-profile/d' "$1")
	[ "$t" = "$(cat "$1")" ] || printf '%s\n' "$t" >"$1"
}

export PW SECRET CTL KS DB REGION ini here
export -f as svc authtoken client

openrc() {
	cat >"$CW_OS_STATE/admin-openrc" <<-EOF
		export OS_AUTH_URL=$KS/v3 OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=$REGION
		export OS_USERNAME=admin OS_PASSWORD=$PW OS_PROJECT_NAME=admin
		export OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
	EOF
}

# ---------------------------------------------------------------------------------------------
phase_install() {
	# Only while we install: other installs on this machine keep their own policy.
	no_service_starts install_packages
}

install_packages() {
	local pkgs=(mariadb-server python3-pymysql rabbitmq-server memcached python3-memcache
		keystone python3-openstackclient glance-api placement-api
		nova-api nova-conductor nova-scheduler nova-compute-kvm
		neutron-server neutron-linuxbridge-agent neutron-dhcp-agent neutron-l3-agent neutron-metadata-agent
		libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils genisoimage
		radvd dnsmasq-base haproxy conntrack iptables ebtables)
	if dpkg-query -W -f '${Status}\n' "${pkgs[@]}" 2>/dev/null | grep -vq 'install ok installed' ||
		[ "$(dpkg-query -W -f '${Status}\n' "${pkgs[@]}" 2>/dev/null | wc -l)" -ne ${#pkgs[@]} ]; then
		step apt-update timeout=300 apt-get update
		step apt-install timeout=1500 env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends "${pkgs[@]}"
	else
		echo "  packages installed"
	fi
}

# conf FILE KEY VALUE...: sets KEY = VALUE lines of a libvirt config, touching FILE only when
# one changes (its mtime says whether the daemon must restart).
conf() {
	local f=$1 k v
	shift
	while [ $# -gt 0 ]; do
		k=$1 v=$2
		shift 2
		grep -qxF "$k = $v" "$f" && continue
		sed -i -E "/^#?\s*$k = /d" "$f"
		echo "$k = $v" >>"$f"
	done
}

# ---------------------------------------------------------------------------------------------
# Spike A: libvirtd without systemd. No machined, so libvirt drives cgroupfs itself: give it no
# controllers (Nova sets CPU shares only from flavor extra specs); no AppArmor, so no security
# driver; and no default network (its NAT on a private range).
phase_libvirt() {
	conf /etc/libvirt/qemu.conf security_driver '"none"' cgroup_controllers '[ ]'
	# nova-compute (user nova) on the socket: no polkit without D-Bus, so the group decides.
	conf /etc/libvirt/libvirtd.conf unix_sock_group '"libvirt"' unix_sock_rw_perms '"0770"' \
		auth_unix_ro '"none"' auth_unix_rw '"none"'
	rm -f /etc/libvirt/qemu/networks/autostart/default.xml
	local d
	for d in libvirtd virtlogd; do
		# A config newer than the daemon: restart it.
		if [ -s "$CW_OS_STATE/$d.pid" ] && [ /etc/libvirt/$d.conf -nt "$CW_OS_STATE/$d.pid" -o \
			/etc/libvirt/qemu.conf -nt "$CW_OS_STATE/$d.pid" ]; then
			kill "$(cat "$CW_OS_STATE/$d.pid")" 2>/dev/null || true
			retry 20 sh -c "! kill -0 $(cat "$CW_OS_STATE/$d.pid") 2>/dev/null"
			rm -f "$CW_OS_STATE/$d.pid"
		fi
	done
	for d in virtlogd libvirtd; do
		if ! { [ -s /run/$d.pid ] && kill -0 "$(cat /run/$d.pid)" 2>/dev/null; }; then
			step "$d-start" timeout=60 $d -d
			retry 30 test -s /run/$d.pid
			cp /run/$d.pid "$CW_OS_STATE/$d.pid"
		fi
	done
	step libvirt-ready timeout=60 retry 50 virsh -c qemu:///system version
	step libvirt-tiny-domain timeout=120 "$here/tiny-domain.sh"
}

# ---------------------------------------------------------------------------------------------
# Spike B: the infrastructure and Keystone, then one token.
phase_keystone() {
	step mariadb-start timeout=120 svc mariadb
	step memcached-start timeout=60 svc memcached
	pidof epmd >/dev/null || echo epmd-before=none >"$CW_OS_STATE/epmd"
	step rabbitmq-start timeout=300 svc rabbitmq-server
	step rabbitmq-user timeout=60 sh -c "rabbitmqctl list_users | grep -q '^openstack' ||
		{ rabbitmqctl add_user openstack $PW && rabbitmqctl set_permissions openstack '.*' '.*' '.*'; }"
	local sql=() d
	for d in keystone:keystone glance:glance placement:placement nova:nova_api nova:nova nova:nova_cell0 neutron:neutron; do
		sql+=("CREATE DATABASE IF NOT EXISTS ${d#*:};"
			"CREATE USER IF NOT EXISTS '${d%%:*}'@'localhost' IDENTIFIED BY '$PW';"
			"GRANT ALL PRIVILEGES ON ${d#*:}.* TO '${d%%:*}'@'localhost';")
	done
	step databases timeout=60 mariadb -e "${sql[*]}"

	local c=/etc/keystone/keystone.conf
	"$ini" $c database connection "$(printf "$DB" keystone keystone)" token provider fernet \
		cache enabled true cache backend dogpile.cache.memcached cache memcache_servers $CTL:11211
	uwsgi_ini /etc/keystone/keystone-uwsgi.ini 2
	step keystone-db-sync timeout=600 as keystone keystone-manage db_sync
	# Once: new keys would restart Keystone (svc) and void the tokens out there.
	[ -e /etc/keystone/fernet-keys/0 ] ||
		step keystone-fernet timeout=60 keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone
	[ -e /etc/keystone/credential-keys/0 ] ||
		step keystone-credential timeout=60 keystone-manage credential_setup --keystone-user keystone --keystone-group keystone
	step keystone-bootstrap timeout=300 as keystone keystone-manage bootstrap --bootstrap-password $PW \
		--bootstrap-admin-url $KS/v3/ --bootstrap-internal-url $KS/v3/ --bootstrap-public-url $KS/v3/ \
		--bootstrap-region-id $REGION
	step keystone-start timeout=60 svc keystone
	openrc
	. "$CW_OS_STATE/admin-openrc"
	step keystone-token timeout=180 retry 150 openstack token issue -f value -c id
}

# ---------------------------------------------------------------------------------------------
# catalog: the service project, users and endpoints, in one openstack process (its interactive
# mode reads commands from stdin): each CLI start costs seconds.
catalog() {
	local have cmds=() s
	have=$(openstack service list -f value -c Name)
	cmds+=("project create --or-show --domain default service")
	for s in glance:image:9292 placement:placement:8778 nova:compute:8774/v2.1 neutron:network:9696; do
		local name rest type url
		name=${s%%:*} rest=${s#*:}
		type=${rest%%:*} url=http://$CTL:${rest#*:}
		cmds+=("user create --or-show --domain default --password $PW $name"
			"role add --project service --user $name admin")
		grep -qx "$name" <<<"$have" && continue
		cmds+=("service create --name $name $type")
		local i
		for i in public internal admin; do
			cmds+=("endpoint create --region $REGION $type $i $url")
		done
	done
	printf '%s\n' "${cmds[@]}" | openstack
	# The interactive mode goes on after a failed command: check what came out.
	local n
	n=$(openstack endpoint list -f value -c 'Service Type' | sort | uniq -c | awk '$1 == 3' | wc -l)
	[ "$n" -eq 5 ] || { openstack endpoint list; echo "catalog: want 3 endpoints for each of 5 services"; return 1; }
}
export -f catalog

# Spike C: Glance, Placement, Nova, the base image and flavors.
phase_nova() {
	. "$CW_OS_STATE/admin-openrc"
	step catalog timeout=300 catalog

	local c=/etc/glance/glance-api.conf
	"$ini" $c DEFAULT workers 1 DEFAULT enabled_backends fs:file database connection "$(printf "$DB" glance glance)" \
		paste_deploy flavor keystone glance_store default_backend fs \
		fs filesystem_store_datadir /var/lib/glance/images/ oslo_limit auth_url $KS
	authtoken $c glance
	step glance-db-sync timeout=600 as glance glance-manage db_sync

	c=/etc/placement/placement.conf
	"$ini" $c placement_database connection "$(printf "$DB" placement placement)" api auth_strategy keystone
	authtoken $c placement
	uwsgi_ini /etc/placement/placement-api-uwsgi.ini 1
	step placement-db-sync timeout=600 as placement placement-manage db sync

	c=/etc/nova/nova.conf
	"$ini" $c DEFAULT my_ip $CTL DEFAULT transport_url "rabbit://openstack:$PW@$CTL:5672/" \
		DEFAULT osapi_compute_workers 1 DEFAULT metadata_workers 1 DEFAULT use_neutron true \
		DEFAULT mkisofs_cmd genisoimage DEFAULT rpc_response_timeout 180 \
		oslo_messaging_rabbit heartbeat_timeout_threshold 0 \
		api auth_strategy keystone api_database connection "$(printf "$DB" nova nova_api)" \
		database connection "$(printf "$DB" nova nova)" conductor workers 1 scheduler workers 1 \
		vnc enabled false glance api_servers http://$CTL:9292 oslo_concurrency lock_path /var/lib/nova/tmp \
		service_user send_service_user_token true \
		neutron service_metadata_proxy true neutron metadata_proxy_shared_secret $SECRET \
		libvirt virt_type qemu libvirt cpu_mode custom libvirt cpu_models Nehalem
	authtoken $c nova
	client $c placement placement
	client $c service_user nova
	client $c neutron neutron
	# nova-compute reads this after nova.conf: Debian's says virt_type=kvm.
	"$ini" /etc/nova/nova-compute.conf libvirt virt_type qemu libvirt cpu_mode custom libvirt cpu_models Nehalem
	uwsgi_ini /etc/nova/nova-api-uwsgi.ini 1
	uwsgi_ini /etc/nova/nova-api-metadata-uwsgi.ini 1
	sed -i '0,/^processes = 1$/!{/^processes = 1$/d}' /etc/nova/nova-api-metadata-uwsgi.ini
	step nova-api-db-sync timeout=600 as nova nova-manage api_db sync
	step nova-map-cell0 timeout=300 as nova nova-manage cell_v2 map_cell0
	step nova-create-cell1 timeout=300 sh -c \
		"runuser -u nova -- nova-manage cell_v2 list_cells | grep -q ' cell1 ' || runuser -u nova -- nova-manage cell_v2 create_cell --name=cell1"
	step nova-db-sync timeout=900 as nova nova-manage db sync

	step glance-start timeout=60 svc glance-api
	step placement-start timeout=60 svc placement-api
	step nova-start timeout=120 svc nova-api nova-api-metadata nova-conductor nova-scheduler nova-compute
	step nova-compute-up timeout=300 retry 280 sh -c \
		"openstack compute service list --service nova-compute -f value -c State | grep -qx up"
	step nova-discover-hosts timeout=300 retry 120 sh -c \
		"runuser -u nova -- nova-manage cell_v2 discover_hosts --verbose &&
		 openstack hypervisor list -f value -c State | grep -qx up"
	step flavors timeout=120 sh -c "openstack flavor show m1.small >/dev/null 2>&1 ||
		openstack flavor create --id auto --vcpus 1 --ram 1024 --disk 4 m1.small"
	step base-image timeout=900 "$here/base-image.sh"
}

# ---------------------------------------------------------------------------------------------
# provider_veth: the provider networks' wires, veth pairs. Neutron's bridge takes cwos-prov; the
# host keeps cwos-host, on-link with the guests (packer reaches them there), and takes no RA from
# Neutron's router so that the host's own routes stay as they are. cwos-prov6 is the IPv6-only
# network's; the host end, cwos-host6, has no address at all.
provider_veth() {
	local end
	for end in "" 6; do
		ip link show cwos-host$end >/dev/null 2>&1 || ip link add cwos-host$end type veth peer name cwos-prov$end
		sysctl -qw net.ipv6.conf.cwos-host$end.accept_ra=0 net.ipv6.conf.cwos-prov$end.accept_ra=0 \
			net.ipv6.conf.cwos-prov$end.disable_ipv6=1
		ip link set cwos-prov$end up
	done
	sysctl -qw net.ipv6.conf.cwos-host6.disable_ipv6=1
	ip addr replace 198.51.100.254/24 dev cwos-host
	ip -6 addr replace 2001:db8:cafe::fe/64 dev cwos-host nodad
	ip link set cwos-host up
	ip link set cwos-host6 up
}

# provider_net: the flat network "provider" with an IPv4 subnet and an IPv6 SLAAC subnet, and the
# flat network "provider6" with only an IPv6 SLAAC subnet, all behind the router cw-router (its
# radvd sends the RAs, its haproxy serves the metadata over IPv4).
provider_net() {
	openstack network show provider >/dev/null 2>&1 ||
		openstack network create --share --provider-physical-network provider \
			--provider-network-type flat --disable-port-security provider
	openstack subnet show provider-v4 >/dev/null 2>&1 ||
		openstack subnet create --network provider --subnet-range 198.51.100.0/24 \
			--gateway 198.51.100.1 --allocation-pool start=198.51.100.10,end=198.51.100.99 provider-v4
	openstack subnet show provider-v6 >/dev/null 2>&1 ||
		openstack subnet create --network provider --ip-version 6 --subnet-range 2001:db8:cafe::/64 \
			--ipv6-ra-mode slaac --ipv6-address-mode slaac provider-v6
	openstack network show provider6 >/dev/null 2>&1 ||
		openstack network create --share --provider-physical-network provider6 \
			--provider-network-type flat --disable-port-security provider6
	openstack subnet show provider6-v6 >/dev/null 2>&1 ||
		openstack subnet create --network provider6 --ip-version 6 --subnet-range 2001:db8:cafe:6::/64 \
			--ipv6-ra-mode slaac --ipv6-address-mode slaac provider6-v6
	openstack router show cw-router >/dev/null 2>&1 || openstack router create cw-router
	local have sub
	have=$(openstack port list --router cw-router -f value -c 'Fixed IP Addresses')
	for sub in provider-v4 provider-v6 provider6-v6; do
		grep -q "$(openstack subnet show $sub -f value -c id)" <<<"$have" ||
			openstack router add subnet cw-router $sub
	done
	# teardown.sh removes these namespaces and these bridges, and no other (other tests on this
	# machine name their namespaces after Neutron's too).
	local net net6 router
	net=$(openstack network show provider -f value -c id)
	net6=$(openstack network show provider6 -f value -c id)
	router=$(openstack router show cw-router -f value -c id)
	printf '%s\n' "qdhcp-$net" "qdhcp-$net6" "qrouter-$router" >"$CW_OS_STATE/netns"
	printf '%s\n' "brq${net:0:11}" "brq${net6:0:11}" >"$CW_OS_STATE/bridge"
}
export -f provider_veth provider_net

# Neutron: ML2 flat + linuxbridge, no firewall (the noop driver; port security off on the
# network), the DHCP, L3 and metadata agents.
phase_neutron() {
	. "$CW_OS_STATE/admin-openrc"
	step provider-veth timeout=30 provider_veth
	local c=/etc/neutron/neutron.conf
	"$ini" $c DEFAULT core_plugin ml2 DEFAULT service_plugins router \
		DEFAULT transport_url "rabbit://openstack:$PW@$CTL:5672/" DEFAULT auth_strategy keystone \
		DEFAULT notify_nova_on_port_status_changes true DEFAULT notify_nova_on_port_data_changes true \
		DEFAULT api_workers 1 DEFAULT rpc_workers 1 DEFAULT rpc_state_report_workers 1 \
		experimental linuxbridge true oslo_messaging_rabbit heartbeat_timeout_threshold 0 \
		database connection "$(printf "$DB" neutron neutron)" oslo_concurrency lock_path /var/lib/neutron/tmp
	authtoken $c neutron
	client $c nova nova
	"$ini" /etc/neutron/plugins/ml2/ml2_conf.ini ml2 type_drivers flat ml2 tenant_network_types '' \
		ml2 mechanism_drivers linuxbridge ml2 extension_drivers port_security ml2_type_flat flat_networks provider,provider6
	"$ini" /etc/neutron/plugins/ml2/linuxbridge_agent.ini linux_bridge physical_interface_mappings provider:cwos-prov,provider6:cwos-prov6 \
		vxlan enable_vxlan false securitygroup firewall_driver noop securitygroup enable_security_group false
	"$ini" /etc/neutron/dhcp_agent.ini DEFAULT interface_driver linuxbridge DEFAULT enable_isolated_metadata true
	"$ini" /etc/neutron/l3_agent.ini DEFAULT interface_driver linuxbridge
	"$ini" /etc/neutron/metadata_agent.ini DEFAULT nova_metadata_host $CTL \
		DEFAULT metadata_proxy_shared_secret $SECRET DEFAULT metadata_workers 1
	uwsgi_ini /etc/neutron/neutron-api-uwsgi.ini 1
	step neutron-db-sync timeout=900 as neutron neutron-db-manage --config-file $c \
		--config-file /etc/neutron/plugins/ml2/ml2_conf.ini upgrade heads
	step neutron-start timeout=120 svc neutron-api neutron-rpc-server neutron-linuxbridge-agent \
		neutron-dhcp-agent neutron-l3-agent neutron-metadata-agent
	step neutron-agents-up timeout=300 retry 280 sh -c \
		"[ \$(openstack network agent list -f value -c Alive | grep -c True) -ge 4 ]"
	step provider-net timeout=300 provider_net
}

# ---------------------------------------------------------------------------------------------
phase install
phase_install
for p in ${phases#install }; do
	[ "$until_phase" = install ] && break
	phase "$p"
	"phase_$p"
	[ "$until_phase" = "$p" ] && break
done
phase ""
