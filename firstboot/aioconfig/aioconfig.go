// Package aioconfig writes Clearwater's all-in-one config for the chosen address: the keys of
// /etc/clearwater/local_config and /etc/clearwater/shared_config, and the clearwater-aio block of
// /etc/hosts, in upstream's formats (clearwater-auto-config's write_config) with its defects fixed:
// a missing key is added, never an empty address, and the hosts block carries the new hostname.
// For an IPv6 address it also keeps etcd and its clients on loopback IPv4 and makes chronos serve
// both families (/etc/chronos/chronos.conf), which upstream's scripts need (ipv6.go).
//
// Every line we do not own is kept byte for byte, as are line endings (CRLF too) and whether a
// file ends with one (but a blank line that our edit leaves last keeps its ending, as it would
// vanish without it). A key is ours on a line that starts with "key=" at column 0, as upstream's
// sed matches it: the first such line is replaced in place; later ones are dropped, since the
// last assignment wins when bash sources the file; a missing key is appended. Commented,
// indented and exported assignments are the operator's and stay. In /etc/hosts, the lines from
// "#+clearwater-aio" to "#-clearwater-aio" are ours; a start marker without an end marker takes
// only the next line with it, when that line is an entry that upstream writes (upstream's sed
// would delete to the end of the file); of several blocks, whole or broken, the first is replaced
// and the others dropped, and the lines between them stay; a missing block is appended.
//
// Files are replaced atomically and keep their mode and owner; when nothing would change, nothing
// is written. Every path is resolved inside the root as in a chroot (rootfs.Resolve): an absolute
// symlink (/etc/clearwater -> /data/clearwater) starts again from the root, none leads out of it,
// and a symlink in the place of a file we write is written through, not replaced. All checks and
// reads come before the first write.
//
// Upstream's port and prefix overrides (scscf=, scscf_prefix=, icscf=, ... bgcf_prefix=) are
// honoured as write_config honours them: its defaults, then what /etc/clearwater/config and the
// files it sources (shared_config, local_config, user_settings) assign, the last assignment
// winning. They shape the *_uri keys and the hosts block's names; upstream_hostname takes the
// S-CSCF's prefix too (upstream wrote "scscf." whatever the prefix, a name the hosts block then
// did not resolve). A value Clearwater cannot use keeps the default and is a warning.
package aioconfig

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
)

// The files and directories that the package owns or edits, inside the root.
const (
	LocalConfig     = "/etc/clearwater/local_config"
	SharedConfig    = "/etc/clearwater/shared_config"
	Hosts           = "/etc/hosts"
	ClusterSettings = "/etc/clearwater/cluster_settings"
	EtcdData        = "/var/lib/clearwater-etcd"
)

// The marker lines around the /etc/hosts block, as upstream's add_section_text writes them.
const (
	HostsStart = "#+clearwater-aio"
	HostsEnd   = "#-clearwater-aio"
)

// Actions of a Change.
const (
	Create   = "create"
	Update   = "update"
	Remove   = "remove"
	EmptyDir = "empty-dir"
)

// Values are the inputs of one run.
type Values struct {
	Address  netip.Addr // the chosen address: a unicast address, unzoned, not loopback or link-local
	PublicIP netip.Addr // the public_ip override; the zero Addr means Address
	Hostname string     // public_hostname and the SIP host names, e.g. "cw-aio"
	Previous netip.Addr // the address of the last run, from the helper's state; the zero Addr means there was none
	// PreviousUnknown says that the helper's state could not be read (torn by a crash, say):
	// whether the address changed is then judged from local_config's local_ip alone.
	PreviousUnknown bool
}

// Change is one file written or removed, or one directory emptied.
type Change struct {
	Path   string `json:"path"`   // inside the root, e.g. "/etc/hosts"
	Action string `json:"action"` // Create, Update, Remove or EmptyDir
}

// Result says what a run did (Apply) or would do (Plan).
type Result struct {
	Changed      bool `json:"changed"`       // anything written or removed
	HostsChanged bool `json:"hosts_changed"` // the /etc/hosts block changed: dnsmasq, which serves it, needs a restart
	// ClusterReset reports that the address is new (see AddressChanged), so ClusterSettings
	// was removed and EtcdData emptied, where they had anything.
	ClusterReset bool     `json:"cluster_reset"`
	Changes      []Change `json:"changes,omitempty"`
	// Warnings are the overrides of UpstreamConfig that were ignored, and why; on IPv6, the
	// limits that no config lifts (IPv6Limits); and a shared_config change that etcd's copy will
	// undo, with what to run to keep it.
	Warnings []string `json:"warnings,omitempty"`
	// Pending are the changes that Apply planned but did not make because of its error, the
	// first being the one that failed: those files are as they were.
	Pending []Change `json:"pending,omitempty"`
}

// Folders are the folders that Apply writes files in: where a run killed mid-write may have left
// a temp file (rootfs.Sweep).
var Folders = []string{path.Dir(LocalConfig), path.Dir(Hosts), path.Dir(ChronosConfig)}

// Plan returns what Apply would do under root, without changing anything.
func Plan(root string, v Values) (Result, error) {
	p, err := plan(root, v)
	return p.result, err
}

// Apply writes the config for v under root ("/" on a live system). On an error from the checks
// or from reading, nothing is changed; on an error while writing, Result lists what was done.
func Apply(root string, v Values) (Result, error) {
	p, err := plan(root, v)
	if err != nil {
		return Result{}, err
	}
	return p.apply(root)
}

// validate checks v before anything is read or written.
func validate(v Values) error {
	if err := usable(v.Address); err != nil {
		return fmt.Errorf("aioconfig: address: %w", err)
	}
	if v.PublicIP.IsValid() {
		if err := usable(v.PublicIP); err != nil {
			return fmt.Errorf("aioconfig: public IP: %w", err)
		}
	}
	if !config.ValidHostname(v.Hostname) {
		return fmt.Errorf("aioconfig: hostname %q is not a valid host name (letters, digits, '-' and '.' labels of 1-63 characters)", v.Hostname)
	}
	return nil
}

// usable reports why a is not an address that Clearwater can be configured with.
func usable(a netip.Addr) error {
	switch {
	case !a.IsValid():
		return errors.New("no address given")
	case a.Zone() != "":
		return fmt.Errorf("%s has a zone; Clearwater's config cannot carry one", a)
	case a.Is4In6():
		return fmt.Errorf("%s is an IPv4-mapped IPv6 address; give the IPv4 address", a)
	case a.IsUnspecified(), a.IsLoopback(), a.IsMulticast(), a.IsLinkLocalUnicast():
		return fmt.Errorf("%s is not a unicast address that other hosts can reach", a)
	case !a.IsGlobalUnicast():
		return fmt.Errorf("%s is not a unicast address", a)
	}
	return nil
}

// bracket formats a for a host[:port] value: [v6] or v4.
func bracket(a netip.Addr) string {
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

// localKeys are upstream's local_config keys: addresses unbracketed; on IPv6, management on
// loopback IPv4 (see ipv6.go).
func localKeys(v Values) []keyValue {
	public := v.Address
	if v.PublicIP.IsValid() {
		public = v.PublicIP
	}
	kvs := []keyValue{
		{"local_ip", v.Address.String()},
		{"public_ip", public.String()},
		{"public_hostname", v.Hostname},
		{"etcd_cluster", managementIP(v.Address)},
	}
	if v.Address.Is6() {
		kvs = append(kvs, keyValue{managementKey, LoopbackManagement})
	}
	return kvs
}

// sharedKeys are upstream's shared_config keys. Host names stay host names (sprout#1029: PJSIP
// cannot parse a bracketed address in a SIP URI); host[:port] values take [v6]. The URIs are
// quoted, as upstream writes them, because ';' ends a shell command.
func sharedKeys(v Values, sp map[string]*Sproutlet) []keyValue {
	b, h := bracket(v.Address), v.Hostname
	uri := func(name string) string {
		return `"sip:` + sp[name].Prefix + "." + h + ":" + strconv.Itoa(sp[name].Port) + `;transport=TCP"`
	}
	return []keyValue{
		{"sprout_hostname", h},
		{"xdms_hostname", b + ":7888"},
		{"hs_hostname", b + ":8888"},
		{"hs_provisioning_hostname", b + ":8889"},
		{"sprout_registration_store", b},
		{"homestead_impu_store", b},
		{"upstream_hostname", sp["scscf"].Prefix + "." + h},
		{"scscf_uri", uri("scscf")},
		{"icscf_uri", uri("icscf")},
		{"bgcf_uri", uri("bgcf")},
	}
}

// hostsEntry is the line of the /etc/hosts block, with the new hostname (upstream used the one
// from the previous config) and the address unbracketed, as /etc/hosts requires.
func hostsEntry(v Values, sp map[string]*Sproutlet) string {
	names := []string{v.Address.String(), v.Hostname}
	for _, p := range prefixes(sp) {
		names = append(names, p+"."+v.Hostname)
	}
	return strings.Join(names, " ")
}

// prefixes are the sproutlets' prefixes in the order of the hosts block.
func prefixes(sp map[string]*Sproutlet) [3]string {
	var p [3]string
	for i, n := range sproutletNames {
		p[i] = sp[n].Prefix
	}
	return p
}

// edits returns, for each file, how to compute its new content from the old.
func edits(v Values, sp map[string]*Sproutlet) []fileEdit {
	shared, entry := sharedKeys(v, sp), hostsEntry(v, sp)
	return []fileEdit{
		localEdit(v),
		{path: SharedConfig, edit: func(b []byte) []byte { return upsertKeys(b, shared) }},
		{path: Hosts, edit: func(b []byte) []byte {
			return replaceBlock(b, HostsStart, HostsEnd, []string{entry}, prefixes(sp))
		}},
		chronosEdit(v),
	}
}

// plan validates v, reads the files under root and works out every change.
func plan(root string, v Values) (*planned, error) {
	p := &planned{}
	if err := validate(v); err != nil {
		return p, err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return p, fmt.Errorf("aioconfig: root: %w", err)
	}
	defer r.Close()
	sp, warnings, err := readSproutlets(r)
	if err != nil {
		return &planned{}, err
	}
	p.result.Warnings = warnings
	if v.Address.Is6() {
		p.result.Warnings = append(append(p.result.Warnings, IPv6Limits...), bindV6OnlyWarning(r)...)
	}
	var configured netip.Addr
	var sharedOld []byte
	for _, fe := range edits(v, sp) {
		old, err := p.planFile(r, fe)
		if err != nil {
			return &planned{}, err
		}
		switch fe.path {
		case LocalConfig:
			configured = localIP(old)
		case SharedConfig:
			sharedOld = old
		}
	}
	if AddressChanged(v, configured) {
		p.result.ClusterReset = true
		if err := p.planReset(r); err != nil {
			return &planned{}, err
		}
	} else if err := p.warnRevert(r, sharedOld, sharedKeys(v, sp)); err != nil {
		return &planned{}, err
	}
	p.result.Changed = len(p.result.Changes) > 0
	return p, nil
}

// warnRevert adds revertWarning when this run changes shared_config while etcd keeps a copy.
func (p *planned) warnRevert(r *os.Root, old []byte, kvs []keyValue) error {
	if !slices.ContainsFunc(p.result.Changes, func(c Change) bool { return c.Path == SharedConfig }) {
		return nil
	}
	names, err := entries(r, EtcdData, 1)
	if err != nil || len(names) == 0 {
		return err
	}
	p.result.Warnings = append(p.result.Warnings, revertWarning(changedKeys(old, kvs)))
	return nil
}

// AddressChanged reports whether v.Address is new since the last run, judged from the helper's
// state (v.Previous) and from Clearwater's own record, local_config's local_ip (configured, the
// zero Addr when it has none): either one naming another address means a cluster that was built
// for that address. A state that could not be read says nothing either way, so that a state file
// torn by a crash never costs the cluster that local_config shows to be this address's; no
// state at all is a first run.
func AddressChanged(v Values, configured netip.Addr) bool {
	switch {
	case v.PreviousUnknown:
		return configured != v.Address
	case !v.Previous.IsValid():
		return true
	}
	return v.Previous != v.Address || (configured.IsValid() && configured != v.Address)
}
