#!/bin/sh
# Stand-in for Clearwater's own install, which needs Clearwater's package repository:
#
#   apt-get install clearwater-management clearwater-cassandra ellis-node bono-node restund \
#     sprout-node homer-node homestead-node clearwater-prov-tools
#
# It writes what those packages leave for the first-boot helper: the deployment's shared_config
# (with the operator's keys) and the local_config template of clearwater-auto-config-generic, in
# upstream's format. The addresses stay empty here: clearwater-firstboot fills them in at boot.
# Environment: HOME_DOMAIN, SIGNUP_KEY, ELLIS_API_KEY (set by build.pkr.hcl).
set -eu
: "${HOME_DOMAIN:?}" "${SIGNUP_KEY:?}" "${ELLIS_API_KEY:?}"

install -d -m 0755 /etc/clearwater /var/lib/clearwater-etcd

cat >/etc/clearwater/shared_config <<CONFIG
# Deployment definitions
home_domain=$HOME_DOMAIN
sprout_hostname=
hs_hostname=
hs_provisioning_hostname=
xdms_hostname=
ralf_hostname=
chronos_hostname=
cassandra_hostname=
sprout_registration_store=
homestead_impu_store=
ralf_session_store=
upstream_hostname=

# Email server configuration
smtp_smarthost=127.0.0.1
smtp_username=username
smtp_password=password
email_recovery_sender=clearwater@$HOME_DOMAIN

# Keys
signup_key=$SIGNUP_KEY
turn_workaround=$SIGNUP_KEY
ellis_api_key=$ELLIS_API_KEY
ellis_cookie_key=$ELLIS_API_KEY

reduce_cassandra_mem_usage=Y
CONFIG

cat >/etc/clearwater/local_config <<'CONFIG'
local_ip=
public_ip=
public_hostname=
etcd_cluster=
max_log_directory_size=52428800
CONFIG

chmod 0644 /etc/clearwater/shared_config /etc/clearwater/local_config
echo "Clearwater stand-in: /etc/clearwater/shared_config for $HOME_DOMAIN, local_config template"
