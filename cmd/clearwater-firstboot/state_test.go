package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/status"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
)

// The two snapshots and the addresses the helper picks from them.
const (
	addrA = "192.0.2.10"            // dual-stack: IPv4 wins
	addrB = "2001:db8:1::ff:fe00:2" // ipv6-slaac: IPv6 only
)

var snapOf = map[string]string{addrA: "dual-stack", addrB: "ipv6-slaac"}

// runAt runs the helper to completion on the snapshot that gives addr.
func runAt(t *testing.T, root, addr string) result {
	t.Helper()
	r := cli(t, decideArgs("run", root, snap(snapOf[addr])...)...)
	if r.code != exitcode.Decided || r.rep.Address != addr {
		t.Fatalf("run at %s = %d %+v\nstderr: %s", addr, r.code, r.rep, r.stderr)
	}
	return r
}

// buildCluster gives root what Clearwater's cluster manager and etcd write once they run.
func buildCluster(t *testing.T, root string) {
	t.Helper()
	put(t, root, "etc/clearwater/cluster_settings", "servers=built\n")
	put(t, root, "var/lib/clearwater-etcd/member/wal/0.wal", "wal")
}

func clusterKept(t *testing.T, root string) bool {
	t.Helper()
	_, err1 := os.Stat(filepath.Join(root, "etc/clearwater/cluster_settings"))
	_, err2 := os.Stat(filepath.Join(root, "var/lib/clearwater-etcd/member/wal/0.wal"))
	switch {
	case err1 == nil && err2 == nil:
		return true
	case errors.Is(err1, fs.ErrNotExist) && errors.Is(err2, fs.ErrNotExist):
		return false
	}
	t.Fatalf("cluster half cleared: %v, %v", err1, err2)
	return false
}

func stateJSON(t *testing.T, addr, family string) string {
	t.Helper()
	b, err := json.Marshal(state{Address: addr, Family: family, Interface: "eth0"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A state file torn by a crash (empty, truncated, garbage) on the same address is a warning, never
// a reason to clear the cluster: local_config shows that the address did not change. The run
// repairs the state, and status shows the warning.
func TestTornStateKeepsTheCluster(t *testing.T) {
	for name, torn := range map[string]string{
		"empty":      "",
		"truncated":  stateJSON(t, addrA, "ipv4")[:17],
		"garbage":    "\x00\x00\x00\x00PK\x03\x04 not json",
		"no address": "{}\n",
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			runAt(t, root, addrA)
			buildCluster(t, root)
			put(t, root, StateFile, torn)
			r := runAt(t, root, addrA)
			if !clusterKept(t, root) {
				t.Errorf("a torn state (%q) cleared the cluster on the same address", torn)
			}
			if r.rep.Changed || len(r.rep.Changes) != 0 || !hasSubstring(r.rep.Warnings, "state is unreadable") {
				t.Errorf("report = %+v, want no change and a warning about the state", r.rep)
			}
			if s, err := readState(root); err != nil || s.Address != addrA {
				t.Errorf("state not repaired: %+v, %v", s, err)
			}
			if st := cli(t, "status", "--root", root); st.code != exitcode.Decided || !strings.Contains(st.stdout, "warning: the last run's state is unreadable") {
				t.Errorf("status = %d\n%s", st.code, st.stdout)
			}
		})
	}
	// A torn state where the address did change: local_config names the old one, so it resets.
	root := t.TempDir()
	runAt(t, root, addrA)
	buildCluster(t, root)
	put(t, root, StateFile, "")
	runAt(t, root, addrB)
	if clusterKept(t, root) {
		t.Error("a torn state hid a real address change: the cluster of the old address was kept")
	}
}

// A power cut between the config write and the state write, after an address change from A to
// B, leaves one of them naming A. Either way the next run at B clears the cluster (the crash may
// have come before the reset, and the services may have run with A's config); once both agree,
// it is kept.
func TestPowerCutBetweenConfigAndState(t *testing.T) {
	for _, survived := range []string{"config", "state"} {
		t.Run(survived+" survived", func(t *testing.T) {
			root := t.TempDir()
			runAt(t, root, addrA)
			buildCluster(t, root)
			if survived == "config" {
				stateA := read(t, root, StateFile)
				runAt(t, root, addrB) // the config for B is written...
				put(t, root, StateFile, stateA)
				buildCluster(t, root) // ...and the crash came before the reset and the state write
			} else {
				put(t, root, StateFile, stateJSON(t, addrB, "ipv6")) // the state for B, the config still A's
			}
			r := runAt(t, root, addrB)
			if clusterKept(t, root) {
				t.Errorf("the cluster built for %s survived the run at %s: %+v", addrA, addrB, r.rep)
			}
			if !strings.Contains(read(t, root, "etc/clearwater/local_config"), "local_ip="+addrB+"\n") {
				t.Error("local_config does not name the new address")
			}
			buildCluster(t, root)
			runAt(t, root, addrB)
			if !clusterKept(t, root) {
				t.Error("the cluster was cleared again although state and config agree")
			}
		})
	}
}

// An image that keeps Clearwater's config, etcd's data and the helper's state on a data volume
// through absolute symlinks boots as in a chroot: the run writes and clears through them, status
// reads through them, and the symlinks stay.
func TestSymlinkedStateBoots(t *testing.T) {
	root := t.TempDir()
	put(t, root, "data/clearwater/local_config", "local_ip=192.0.2.99\n")
	put(t, root, "data/clearwater/cluster_settings", "servers=built\n")
	put(t, root, "data/etcd/member/wal/0.wal", "wal")
	put(t, root, "data/hosts", "127.0.0.1 localhost\n")
	for link, target := range map[string]string{"etc/clearwater": "/data/clearwater", "var/lib/clearwater-etcd": "/data/etcd",
		"var/lib/clearwater-firstboot": "/data/firstboot", "etc/hosts": "../data/hosts"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, link)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	runAt(t, root, addrA)
	if !strings.Contains(read(t, root, "data/clearwater/local_config"), "local_ip="+addrA+"\n") ||
		!strings.Contains(read(t, root, "data/hosts"), addrA+" cw-aio") {
		t.Error("the config was not written through the symlinks")
	}
	_, err1 := os.Stat(filepath.Join(root, "data/etcd/member"))
	_, err2 := os.Stat(filepath.Join(root, "data/clearwater/cluster_settings"))
	if !errors.Is(err1, fs.ErrNotExist) || !errors.Is(err2, fs.ErrNotExist) {
		t.Errorf("the cluster was not cleared through the symlinks on an address change: %v, %v", err1, err2)
	}
	if _, err := os.Stat(filepath.Join(root, "data/firstboot/state.json")); err != nil {
		t.Errorf("the state was not written through the symlink: %v", err)
	}
	if s := cli(t, "status", "--root", root, "--json"); s.code != exitcode.Decided || s.rep.Address != addrA {
		t.Errorf("status through the symlinks = %d %+v\n%s", s.code, s.rep, s.stderr)
	}
	if link, _ := os.Readlink(filepath.Join(root, "etc/clearwater")); link != "/data/clearwater" {
		t.Errorf("/etc/clearwater became %q", link)
	}
	// The config, its drop-ins and upstream's marker are read through the symlink too.
	put(t, root, "data/clearwater/firstboot.yaml", "hostname: lab-aio\n")
	put(t, root, "data/clearwater/firstboot.d/50-site.yaml", "ipv6_timeout: 1m\n")
	put(t, root, "data/clearwater/force_ipv6", "")
	r := cli(t, decideArgs("run", root, append(snap("dual-stack"), "--start-timeout", "60s")...)...)
	if r.code != exitcode.Decided || !r.rep.ForceIPv6 || r.rep.ForceSource != string(userdata.SourceMarker) || r.rep.Family != "ipv6" {
		t.Errorf("upstream's marker through the symlink: %d %+v", r.code, r.rep)
	}
	if !strings.Contains(read(t, root, "data/clearwater/local_config"), "public_hostname=lab-aio\n") {
		t.Error("firstboot.yaml through the symlink: the hostname did not reach local_config")
	}
	if !hasSubstring(r.rep.Warnings, "ipv6_timeout 1m0s capped") {
		t.Errorf("firstboot.d through the symlink: its ipv6_timeout was not seen: %q", r.rep.Warnings)
	}
}

// A live run of the running system says its verdict on the console, with what the config file
// alone (not its drop-ins) bakes; a run under --root or from a snapshot does not.
func TestVerdictOnTheConsole(t *testing.T) {
	dir := t.TempDir()
	console := filepath.Join(dir, "console")
	old := consoleDevice
	consoleDevice = console
	t.Cleanup(func() { consoleDevice = old })
	if err := os.WriteFile(console, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "firstboot.yaml")
	if err := os.WriteFile(cfg, []byte("force_ipv6: true\non_missing_ipv6: fail\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := Report{Family: "ipv4", Address: "192.0.2.10", Interface: "eth0", ForceSource: "user-data:clearwater",
		Reasons: []string{"chose 192.0.2.10 on eth0: IPv4 preferred when not forced"}}
	sayVerdict(options{verb: "run", root: dir, config: cfg}, rep)
	sayVerdict(options{verb: "run", root: "/", addrs: "x", config: cfg}, rep)
	sayVerdict(options{verb: "plan", root: "/", config: cfg}, rep)
	if b, _ := os.ReadFile(console); len(b) != 0 {
		t.Fatalf("a run under --root, from a snapshot or a plan wrote %q", b)
	}
	sayVerdict(options{verb: "run", root: "/", config: cfg}, rep)
	b, _ := os.ReadFile(console)
	v, ok, err := status.LastVerdict(string(b))
	if !ok || err != nil || v.Family != "ipv4" || v.Baked == nil || !v.Baked.ForceIPv6 || v.Baked.OnMissingIPv6 != "fail" ||
		v.Reason != rep.Reasons[0] {
		t.Errorf("console %q: %+v %v %v", b, v, ok, err)
	}
}
