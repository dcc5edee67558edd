package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/status"
)

// snapFiles returns the files of one of the snapshots captured in real namespaces by
// firstboot/netstate/testdata/capture.sh.
func snapFiles(name string) (addrs, routes string) {
	dir := filepath.Join("..", "..", "firstboot", "netstate", "testdata", name)
	return filepath.Join(dir, "addrs.json"), filepath.Join(dir, "routes.json")
}

// snap returns the helper's flags for a captured snapshot (snapFiles).
func snap(name string) []string {
	addrs, routes := snapFiles(name)
	return []string{"--addrs", addrs, "--routes", routes}
}

type result struct {
	code   int
	stdout string
	stderr string
	rep    Report
}

// cli runs the helper in-process with --json and decodes its report.
func cli(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	r := result{code: code, stdout: out.String(), stderr: errb.String()}
	if bytes.HasPrefix(out.Bytes(), []byte("{")) {
		if err := json.Unmarshal(out.Bytes(), &r.rep); err != nil {
			t.Fatalf("%v: output is not one JSON object: %v\n%s\nstderr: %s", args, err, out.String(), errb.String())
		}
	}
	return r
}

func decideArgs(verb, root string, extra ...string) []string {
	return append([]string{verb, "--root", root, "--json"}, extra...)
}

// tree hashes every file under root, so a test can tell that nothing at all was written.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			m[rel] = "dir"
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m[rel] = fmt.Sprintf("%x %s %d", sha256.Sum256(data), info.Mode(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// runTree is tree without what every run writes in /run, whatever it decides: its status, and
// the run lock with the folder that holds them.
func runTree(t *testing.T, root string) map[string]string {
	t.Helper()
	m := tree(t, root)
	for _, p := range []string{status.File, RunLock, path.Dir(RunLock), "/run"} {
		delete(m, strings.TrimPrefix(p, "/"))
	}
	return m
}

func sameTree(t *testing.T, before, after map[string]string) {
	t.Helper()
	var diff []string
	for k, v := range after {
		if before[k] != v {
			diff = append(diff, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			diff = append(diff, k+" (removed)")
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Errorf("files changed: %v", diff)
	}
}

func put(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, root, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestPlanDecidesAndWritesNothing(t *testing.T) {
	root := t.TempDir()
	put(t, root, "etc/hosts", "127.0.0.1 localhost\n")
	before := tree(t, root)
	r := cli(t, decideArgs("plan", root, snap("dual-stack")...)...)
	if r.code != exitcode.Decided || r.rep.Family != "ipv4" || r.rep.Address != "192.0.2.10" || r.rep.Interface != "eth0" {
		t.Fatalf("plan = %d %+v\nstderr: %s", r.code, r.rep, r.stderr)
	}
	if !r.rep.Changed || r.rep.ForceIPv6 || r.rep.ForceSource != "none" || r.rep.Mode != "plan" {
		t.Errorf("plan report = %+v, want changed, not forced, source none", r.rep)
	}
	sameTree(t, before, tree(t, root))
}

func TestRunWritesConfigThenNothingOnRerun(t *testing.T) {
	root := t.TempDir()
	put(t, root, "etc/hosts", "127.0.0.1 localhost\n# operator line\n")
	r := cli(t, decideArgs("run", root, snap("dual-stack")...)...)
	if r.code != exitcode.Decided || !r.rep.Changed {
		t.Fatalf("run = %d %+v\nstderr: %s", r.code, r.rep, r.stderr)
	}
	lc := read(t, root, "etc/clearwater/local_config")
	for _, want := range []string{"local_ip=192.0.2.10", "public_ip=192.0.2.10", "etcd_cluster=192.0.2.10", "public_hostname=cw-aio"} {
		if !strings.Contains(lc, want+"\n") {
			t.Errorf("local_config lacks %q:\n%s", want, lc)
		}
	}
	hosts := read(t, root, "etc/hosts")
	if !strings.Contains(hosts, "# operator line\n") || !strings.Contains(hosts, "192.0.2.10 cw-aio scscf.cw-aio bgcf.cw-aio icscf.cw-aio") {
		t.Errorf("hosts:\n%s", hosts)
	}
	var st state
	if err := json.Unmarshal([]byte(read(t, root, StateFile)), &st); err != nil || st.Address != "192.0.2.10" {
		t.Errorf("state = %+v, %v", st, err)
	}
	// The status file changes at every run (its time); everything else must not.
	before := runTree(t, root)
	r = cli(t, decideArgs("run", root, snap("dual-stack")...)...)
	if r.code != exitcode.Decided || r.rep.Changed || len(r.rep.Changes) != 0 {
		t.Fatalf("rerun = %d %+v", r.code, r.rep)
	}
	sameTree(t, before, runTree(t, root))
}

func TestAddressChangeClearsClusterState(t *testing.T) {
	root := t.TempDir()
	if r := cli(t, decideArgs("run", root, snap("dual-stack")...)...); r.code != 0 {
		t.Fatal(r.stderr)
	}
	put(t, root, "etc/clearwater/cluster_settings", "servers=old\n")
	put(t, root, "var/lib/clearwater-etcd/member/wal", "x")
	r := cli(t, decideArgs("run", root, snap("ipv6-slaac")...)...)
	if r.code != exitcode.Decided || r.rep.Family != "ipv6" || r.rep.Address != "2001:db8:1::ff:fe00:2" {
		t.Fatalf("run = %d %+v", r.code, r.rep)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/clearwater/cluster_settings")); !os.IsNotExist(err) {
		t.Errorf("cluster_settings survived an address change: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "var/lib/clearwater-etcd")); len(ents) != 0 {
		t.Errorf("clearwater-etcd not emptied: %v", ents)
	}
	if !strings.Contains(read(t, root, "etc/clearwater/shared_config"), "hs_hostname=[2001:db8:1::ff:fe00:2]:8888") {
		t.Errorf("shared_config lacks the bracketed IPv6 form")
	}
	if !hasSubstring(r.rep.Warnings, "WebSockets") {
		t.Errorf("IPv6 chosen without the WebSockets warning: %q", r.rep.Warnings)
	}
}

func hasSubstring(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestTogglePrecedence(t *testing.T) {
	const (
		keyTrue   = "#cloud-config\nclearwater:\n  force_ipv6: true\n"
		keyFalse  = "#cloud-config\nclearwater:\n  force_ipv6: false\n"
		writeFile = "#cloud-config\nwrite_files:\n  - path: /etc/clearwater/force_ipv6\n    content: \"\"\n"
	)
	for _, tc := range []struct {
		name       string
		userData   string
		marker     bool
		config     string
		wantForce  bool
		wantSource string
		wantFamily string
	}{
		{"default", "", false, "", false, "none", "ipv4"},
		{"config", "", false, "force_ipv6: true\n", true, "config", "ipv6"},
		{"config false is still config", "", false, "force_ipv6: false\n", false, "config", "ipv4"},
		{"marker beats config", "", true, "force_ipv6: false\n", true, "marker", "ipv6"},
		{"write_files beats marker", writeFile, true, "", true, "user-data:write_files", "ipv6"},
		{"key beats everything", keyTrue, false, "", true, "user-data:clearwater", "ipv6"},
		{"key false beats marker and config", keyFalse, true, "force_ipv6: true\n", false, "user-data:clearwater", "ipv4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			args := decideArgs("plan", root, snap("dual-stack")...)
			if tc.userData != "" {
				ud := filepath.Join(t.TempDir(), "user-data")
				os.WriteFile(ud, []byte(tc.userData), 0o600)
				args = append(args, "--user-data", ud)
			}
			if tc.marker {
				put(t, root, MarkerFile, "")
			}
			if tc.config != "" {
				put(t, root, "etc/clearwater/firstboot.yaml", tc.config)
			}
			r := cli(t, args...)
			if r.code != exitcode.Decided || r.rep.ForceIPv6 != tc.wantForce || r.rep.ForceSource != tc.wantSource || r.rep.Family != tc.wantFamily {
				t.Errorf("got code %d force %t source %q family %q; want force %t source %q family %q\n%s",
					r.code, r.rep.ForceIPv6, r.rep.ForceSource, r.rep.Family, tc.wantForce, tc.wantSource, tc.wantFamily, r.stderr)
			}
		})
	}
}

func TestForcedWithoutIPv6(t *testing.T) {
	root := t.TempDir()
	put(t, root, MarkerFile, "")
	r := cli(t, decideArgs("run", root, snap("ipv4-only")...)...)
	if r.code != exitcode.Decided || r.rep.Family != "ipv4" || !r.rep.Degraded {
		t.Fatalf("fallback: %d %+v", r.code, r.rep)
	}

	root = t.TempDir()
	put(t, root, MarkerFile, "")
	put(t, root, "etc/clearwater/firstboot.yaml", "on_missing_ipv6: fail\n")
	before := runTree(t, root)
	r = cli(t, decideArgs("run", root, snap("ipv4-only")...)...)
	if r.code != exitcode.NoAddress || r.rep.Family != "" || r.rep.Error == "" {
		t.Fatalf("fail: %d %+v", r.code, r.rep)
	}
	after := tree(t, root)
	for k := range after {
		if strings.HasPrefix(k, "etc/clearwater/local") || strings.HasPrefix(k, "etc/clearwater/shared") || k == "etc/hosts" {
			t.Errorf("%s written although nothing was decided", k)
		}
	}
	sameTree(t, before, runTree(t, root))
}

func TestNoAddressWritesNothingAndSaysWhy(t *testing.T) {
	root := t.TempDir()
	r := cli(t, decideArgs("run", root, snap("loopback-only")...)...)
	if r.code != exitcode.NoAddress || r.rep.Family != "" || r.rep.Address != "" || r.rep.Error == "" {
		t.Fatalf("no address: %d %+v", r.code, r.rep)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/clearwater/local_config")); !os.IsNotExist(err) {
		t.Errorf("local_config written with no address")
	}
	st := cli(t, "status", "--root", root)
	if st.code != exitcode.NoAddress || !strings.Contains(st.stdout, "no address decided") {
		t.Errorf("status = %d %q", st.code, st.stdout)
	}
}

func TestBadUsageExitsTwoWithAMessage(t *testing.T) {
	root := t.TempDir()
	put(t, root, "etc/clearwater/firstboot.yaml", "ipv6_timeout: forever\n")
	missing := filepath.Join(root, "nope.json")
	notJSON := filepath.Join(root, "bad.json")
	os.WriteFile(notJSON, []byte("eth0: 192.0.2.1"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no verb", nil, "Usage"},
		{"unknown verb", []string{"decide"}, `unknown command "decide"`},
		{"unknown flag", []string{"plan", "--force"}, "flag provided but not defined: -force"},
		{"extra argument", []string{"plan", "eth0"}, `unexpected argument "eth0"`},
		{"root missing", []string{"plan", "--root", filepath.Join(root, "absent")}, "not a directory"},
		{"routes alone", []string{"plan", "--root", t.TempDir(), "--routes", missing}, "--routes needs --addrs"},
		{"user-data missing", []string{"plan", "--root", t.TempDir(), "--user-data", missing}, "not a readable file"},
		{"snapshot missing", []string{"plan", "--root", t.TempDir(), "--addrs", missing}, "nope.json"},
		{"snapshot not json", []string{"plan", "--root", t.TempDir(), "--addrs", notJSON}, "bad.json"},
		{"bad config", append([]string{"plan", "--root", root}, snap("dual-stack")...), "firstboot.yaml: ipv6_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errb)
			if code != exitcode.Usage || !strings.Contains(out.String()+errb.String(), tc.want) {
				t.Errorf("%v = %d\nstdout: %s\nstderr: %s\nwant exit 2 and %q", tc.args, code, out.String(), errb.String(), tc.want)
			}
		})
	}
}

func TestHelpIsUsefulAndExitsZero(t *testing.T) {
	for _, verb := range []string{"run", "plan", "status"} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{verb, "--help"}, &out, &errb); code != 0 {
			t.Errorf("%s --help = %d", verb, code)
		}
		help := errb.String()
		for _, want := range []string{"Usage: clearwater-firstboot " + verb, "-root", "Exit status"} {
			if !strings.Contains(help, want) {
				t.Errorf("%s --help lacks %q:\n%s", verb, want, help)
			}
		}
	}
}

func TestStatusAfterRun(t *testing.T) {
	root := t.TempDir()
	if st := cli(t, "status", "--root", root); st.code != exitcode.NoAddress || !strings.Contains(st.stderr, "has not run") {
		t.Errorf("status before any run = %d %q", st.code, st.stderr)
	}
	cli(t, decideArgs("run", root, snap("ipv6-slaac")...)...)
	st := cli(t, "status", "--root", root)
	if st.code != exitcode.Decided || !strings.Contains(st.stdout, "ipv6 2001:db8:1::ff:fe00:2 on eth0") {
		t.Errorf("status = %d\n%s", st.code, st.stdout)
	}
	js := cli(t, "status", "--root", root, "--json")
	if js.rep.Address != "2001:db8:1::ff:fe00:2" || js.rep.Time == "" || js.rep.Mode != "run" {
		t.Errorf("status --json = %+v", js.rep)
	}
}

func TestVersion(t *testing.T) {
	r := cli(t, "version")
	if r.code != 0 || r.stdout != "clearwater-firstboot "+version+"\n" {
		t.Errorf("version = %d %q", r.code, r.stdout)
	}
}

// --json never prints null for a list, in run, plan and status, so `jq '.warnings[]'` works.
func TestJSONListsAreNeverNull(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{decideArgs("plan", root, snap("dual-stack")...), decideArgs("run", root, snap("dual-stack")...),
		decideArgs("run", root, snap("dual-stack")...), {"status", "--root", root, "--json"}} {
		r := cli(t, args...)
		var m map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, r.stdout)
		}
		for _, k := range []string{"reasons", "warnings", "changes", "not_written"} {
			if _, ok := m[k].([]any); !ok {
				t.Errorf("%v: %q = %#v, want a list", args[0], k, m[k])
			}
		}
	}
}

// Upstream's overrides reach the hosts block, and an unusable one is a warning in the report.
func TestUpstreamOverridesInTheReport(t *testing.T) {
	root := t.TempDir()
	put(t, root, "etc/clearwater/config", ". /etc/clearwater/user_settings\n")
	put(t, root, "etc/clearwater/user_settings", "scscf_prefix=sprout\nbgcf=none\n")
	r := cli(t, decideArgs("run", root, snap("dual-stack")...)...)
	if r.code != exitcode.Decided || !hasSubstring(r.rep.Warnings, `bgcf="none" is not a port`) {
		t.Fatalf("run = %d, warnings %q\n%s", r.code, r.rep.Warnings, r.stderr)
	}
	if hosts := read(t, root, "etc/hosts"); !strings.Contains(hosts, "192.0.2.10 cw-aio sprout.cw-aio bgcf.cw-aio icscf.cw-aio") {
		t.Errorf("hosts:\n%s", hosts)
	}
}

// Waits that a drop-in raises past what --start-timeout leaves are capped, and the status says
// which setting and to what; within the limit, nothing is said.
func TestStartTimeoutCapsTheWaits(t *testing.T) {
	root := t.TempDir()
	put(t, root, "etc/clearwater/firstboot.d/50-user-data.yaml", "ipv6_timeout: 10m\n")
	r := cli(t, decideArgs("run", root, append(snap("dual-stack"), "--start-timeout", "168s")...)...)
	// 168s - 30s - (ipv4_wait 10s + probe_after 3s + metadata_timeout 5s) = 120s, less what the run spent
	if r.code != exitcode.Decided || !hasSubstring(r.rep.Warnings, "ipv6_timeout 10m0s capped to 1m5") || !hasSubstring(r.rep.Warnings, "stops this run after 2m48s") {
		t.Errorf("run = %d, warnings %q", r.code, r.rep.Warnings)
	}
	put(t, root, "etc/clearwater/firstboot.d/50-user-data.yaml", "ipv6_timeout: 1m\n")
	r = cli(t, decideArgs("run", root, append(snap("dual-stack"), "--start-timeout", "168s")...)...)
	if r.code != exitcode.Decided || hasSubstring(r.rep.Warnings, "capped") {
		t.Errorf("within the limit: %d, warnings %q", r.code, r.rep.Warnings)
	}
	if r := cli(t, decideArgs("run", root, append(snap("dual-stack"), "--start-timeout", "-1s")...)...); r.code != exitcode.Usage {
		t.Errorf("a negative --start-timeout: exit %d", r.code)
	}
}
