package aioconfig

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// What an IPv6 node needs besides the address, because upstream's own scripts cannot run over an
// IPv6 address on an all-in-one node (the facts: docs/DESIGN.md, "What it writes"):
//
//   - etcd and everything that talks to it (the etcd init script, the cluster, config and queue
//     managers, monit's poll_etcd.sh, clearwater-etcdctl, cw-config and the upload and diags
//     scripts) use ${management_local_ip:-$local_ip} in unbracketed URLs, and the etcd init names
//     the member after the address with its last ':' group cut off. With management_local_ip and
//     etcd_cluster at 127.0.0.1 they all run over loopback IPv4: the node is its own cluster, so
//     nothing outside needs etcd's peer port.
//   - chronos binds http.bind-address (default 0.0.0.0, IPv4 only) while monit's poll_chronos.sh
//     asks [local_ip]:7253 and sprout asks 127.0.0.1:7253. "::" serves both on Linux's default
//     dual-stack sockets (net.ipv6.bindv6only=0); it was chronos' own default for a while
//     (chronos#346, reverted by #356 for IPv4-only hosts).
const (
	// LoopbackManagement is management_local_ip and etcd_cluster on an IPv6 node.
	LoopbackManagement = "127.0.0.1"
	// ChronosConfig is chronos' per-node config (boost ini); it is read at chronos' start.
	ChronosConfig = "/etc/chronos/chronos.conf"
	// ChronosBindAny is http.bind-address on an IPv6 node.
	ChronosBindAny = "::"
)

// chronosSection and chronosBindKey are where ChronosConfig holds the bind address.
const (
	chronosSection = "[http]"
	chronosBindKey = "bind-address"
)

// managementKey is upstream's key for separating management from signalling traffic.
const managementKey = "management_local_ip"

// ipv6OnlyLocal are the local_config lines that only an IPv6 node needs: on an IPv4 node they go,
// when they hold exactly what the helper writes (an operator's other value stays).
var ipv6OnlyLocal = []keyValue{{managementKey, LoopbackManagement}}

// IPv6Limits are what no config can lift on an IPv6 all-in-one node; each is a warning in the
// status of an IPv6 decision (policy.WebSocketWarning is the third).
var IPv6Limits = []string{
	"restund relays TURN for IPv6 peers only: upstream's restund script sets its IPv4 relay address to 127.0.0.1 on an IPv6 node",
	"astaire cannot reach its local memcached: its init script passes --local-name=<local_ip>:11211 unbracketed, which it cannot parse for IPv6 (no config sets it); on one node there is nothing to resynchronize, so only its log says so",
}

// BindV6Only is the sysctl that makes a socket bound to "::" IPv6-only: then chronos' socket no
// longer serves sprout's 127.0.0.1.
const BindV6Only = "/proc/sys/net/ipv6/bindv6only"

// bindV6OnlyWarning says why chronos will not answer on 127.0.0.1 when the sysctl is on; none
// when it is off or cannot be read (a --root without /proc).
func bindV6OnlyWarning(r *os.Root) []string {
	b, err := rootfs.ReadFile(r, BindV6Only)
	if err != nil || strings.TrimSpace(string(b)) != "1" {
		return nil
	}
	return []string{fmt.Sprintf("net.ipv6.bindv6only is 1 (%s): chronos, bound to %s in %s, will answer on IPv6 only, "+
		"not on 127.0.0.1:7253 where sprout asks; set net.ipv6.bindv6only=0 (the kernel's default)", BindV6Only, ChronosBindAny, ChronosConfig)}
}

// dropLines removes the lines that are exactly key=value (trailing blanks ignored) for one of
// kvs, and keeps every other line byte for byte.
func dropLines(content []byte, kvs []keyValue) []byte {
	e := newEditor(content)
	for _, l := range e.in {
		if !isAssignmentOf(l.text, kvs) {
			e.keep(l)
		}
	}
	return e.finish()
}

func isAssignmentOf(text []byte, kvs []keyValue) bool {
	t := string(bytes.TrimRight(text, " \t\r"))
	for _, kv := range kvs {
		if t == kv.Key+"="+kv.Value {
			return true
		}
	}
	return false
}

// iniKey returns the key that an ini line assigns ("key = value", blanks around both) and its
// value, or ok=false for a section, a comment or a blank line.
func iniKey(text []byte) (key, value string, ok bool) {
	t := strings.TrimSpace(string(text))
	if t == "" || t[0] == '#' || t[0] == ';' || t[0] == '[' {
		return "", "", false
	}
	k, v, found := strings.Cut(t, "=")
	if !found {
		return "", "", false
	}
	return strings.TrimSpace(k), strings.TrimSpace(v), true
}

func isSection(text []byte) bool {
	t := strings.TrimSpace(string(text))
	return strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]")
}

// setChronosBind sets [http] bind-address to value in a chronos.conf: the first assignment in
// the section is replaced in place, later ones are dropped (boost's parser refuses a single-valued
// option given twice), a missing one goes right after the section header, a missing section at
// the end. Every other line is kept byte for byte.
func setChronosBind(content []byte, value string) []byte {
	e := newEditor(content)
	assignment := chronosBindKey + " = " + value
	inSection, done := false, false
	for _, l := range e.in {
		if isSection(l.text) {
			if inSection && !done {
				e.add(assignment)
				done = true
			}
			inSection = strings.TrimSpace(string(l.text)) == chronosSection
			e.keep(l)
			continue
		}
		if k, _, ok := iniKey(l.text); inSection && ok && k == chronosBindKey {
			if !done {
				e.keep(line{text: []byte(assignment), eol: l.eol})
				done = true
			}
			continue
		}
		e.keep(l)
	}
	if !done {
		if !inSection {
			e.add(chronosSection)
		}
		e.add(assignment)
	}
	return e.finish()
}

// dropChronosBind removes the [http] bind-address lines that hold value, and keeps every other
// line byte for byte.
func dropChronosBind(content []byte, value string) []byte {
	e := newEditor(content)
	inSection := false
	for _, l := range e.in {
		if isSection(l.text) {
			inSection = strings.TrimSpace(string(l.text)) == chronosSection
		} else if k, v, ok := iniKey(l.text); inSection && ok && k == chronosBindKey && v == value {
			continue
		}
		e.keep(l)
	}
	return e.finish()
}

// onlyOurs reports whether a chronos.conf holds nothing but section headers and blank lines:
// what is left of a file that the helper created once its bind address is dropped.
func onlyOurs(content []byte) bool {
	for _, l := range splitLines(content) {
		if len(bytes.TrimSpace(l.text)) > 0 && !isSection(l.text) {
			return false
		}
	}
	return true
}

// chronosEdit is the edit of ChronosConfig for v: on IPv6 the bind address that serves both
// loopback IPv4 and the address; on IPv4 none of ours (and no file, when only ours was there).
func chronosEdit(v Values) fileEdit {
	if v.Address.Is6() {
		return fileEdit{path: ChronosConfig, edit: func(b []byte) []byte { return setChronosBind(b, ChronosBindAny) }}
	}
	return fileEdit{
		path: ChronosConfig,
		edit: func(b []byte) []byte { return dropChronosBind(b, ChronosBindAny) },
		gone: onlyOurs,
	}
}

// localEdit is the edit of LocalConfig: the keys for v, and on IPv4 no IPv6-only line of ours.
func localEdit(v Values) fileEdit {
	kvs := localKeys(v)
	return fileEdit{path: LocalConfig, edit: func(b []byte) []byte {
		if !v.Address.Is6() {
			b = dropLines(b, ipv6OnlyLocal)
		}
		return upsertKeys(b, kvs)
	}}
}

// managementIP is where etcd and its clients run: loopback IPv4 on an IPv6 node (see above), the
// address itself on an IPv4 node, as upstream's templates have it.
func managementIP(a netip.Addr) string {
	if a.Is6() {
		return LoopbackManagement
	}
	return a.String()
}

// revertWarning says that a shared_config change (changed: the new key=value lines) made on a
// boot that keeps etcd's data will be undone: once etcd runs, upstream's config manager writes
// etcd's copy over the file (it uploads the file only while etcd has none), and only a running
// etcd takes a new copy, through upstream's cw-config.
func revertWarning(changed []string) string {
	return fmt.Sprintf("%s changed (%s) on a boot that keeps etcd's data in %s: once etcd runs, Clearwater's config manager "+
		"writes etcd's copy back over the file. To keep the change, once etcd is up run `cw-config download shared_config`, "+
		"set those lines in ~/clearwater-config-manager/$USER/shared_config and run `cw-config upload shared_config`",
		SharedConfig, strings.Join(changed, " "), EtcdData)
}

// changedKeys returns key=value for each of kvs whose value in content (the last assignment at
// column 0, as bash reads it) differs.
func changedKeys(content []byte, kvs []keyValue) []string {
	old := map[string]string{}
	for _, l := range splitLines(content) {
		if i := keyIndex(l.text, kvs); i >= 0 {
			old[kvs[i].Key] = string(l.text[len(kvs[i].Key)+1:])
		}
	}
	var changed []string
	for _, kv := range kvs {
		if v, ok := old[kv.Key]; !ok || v != kv.Value {
			changed = append(changed, kv.Key+"="+kv.Value)
		}
	}
	return changed
}
