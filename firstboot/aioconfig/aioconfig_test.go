package aioconfig

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// Upstream's templates (clearwater-auto-config/etc/clearwater/*), with an operator's additions.
const (
	localTemplate = "# Local config\nlocal_ip=\npublic_ip=\npublic_hostname=\netcd_cluster=\nmax_log_directory_size=52428800\n"

	sharedTemplate = `# Deployment definitions
home_domain=example.com
sprout_hostname=
xdms_hostname=
hs_hostname=
hs_provisioning_hostname=
ralf_hostname=
sprout_registration_store=
homestead_impu_store=
upstream_hostname=
scscf_uri=
icscf_uri=
bgcf_uri=

# Email server configuration
smtp_smarthost=127.0.0.1
signup_key=secret
`
	hostsTemplate = "127.0.0.1 localhost\n# operator\n192.168.7.7 ntp.lab\n"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// newRoot makes an image tree holding the given files (path inside the image -> content).
func newRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	for name, content := range files {
		writeFile(t, root, name, content)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func writeFile(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFileT(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// treeState describes every entry under dir, without following symlinks: path, type, mode,
// owner, inode, size, mtime, and the content's hash or the link's target.
func treeState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s %v %d:%d ino=%d size=%d mtime=%d", p, info.Mode(), st.Uid, st.Gid, st.Ino, info.Size(), info.ModTime().UnixNano())
		switch {
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " sha256=%x", sha256.Sum256(data))
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " -> %s", target)
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func apply(t *testing.T, root string, v Values) Result {
	t.Helper()
	res, err := Apply(root, v)
	if err != nil {
		t.Fatalf("Apply(%+v): %v", v, err)
	}
	return res
}

func v4() Values { return Values{Address: mustAddr("10.0.0.5"), Hostname: "cw-aio"} }

func TestApplyUpstreamTemplates(t *testing.T) {
	tests := []struct {
		addr, b string
	}{
		{"10.0.0.5", "10.0.0.5"},
		{"2001:db8::5", "[2001:db8::5]"},
		{"fd00:0:0:1::a", "[fd00:0:0:1::a]"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			root := newRoot(t, map[string]string{LocalConfig: localTemplate, SharedConfig: sharedTemplate, Hosts: hostsTemplate})
			v := Values{Address: mustAddr(tt.addr), Hostname: "ims-1.lab"}
			res := apply(t, root, v)
			a, b := tt.addr, tt.b
			// IPv6: etcd and its clients on loopback IPv4 (see ipv6.go).
			mgmt, mgmtLine := a, ""
			if v.Address.Is6() {
				mgmt, mgmtLine = "127.0.0.1", "management_local_ip=127.0.0.1\n"
			}
			wantLocal := "# Local config\nlocal_ip=" + a + "\npublic_ip=" + a + "\npublic_hostname=ims-1.lab\netcd_cluster=" + mgmt +
				"\nmax_log_directory_size=52428800\n" + mgmtLine
			wantShared := `# Deployment definitions
home_domain=example.com
sprout_hostname=ims-1.lab
xdms_hostname=` + b + `:7888
hs_hostname=` + b + `:8888
hs_provisioning_hostname=` + b + `:8889
ralf_hostname=
sprout_registration_store=` + b + `
homestead_impu_store=` + b + `
upstream_hostname=scscf.ims-1.lab
scscf_uri="sip:scscf.ims-1.lab:5054;transport=TCP"
icscf_uri="sip:icscf.ims-1.lab:5052;transport=TCP"
bgcf_uri="sip:bgcf.ims-1.lab:5053;transport=TCP"

# Email server configuration
smtp_smarthost=127.0.0.1
signup_key=secret
`
			wantHosts := hostsTemplate + "#+clearwater-aio\n" + a + " ims-1.lab scscf.ims-1.lab bgcf.ims-1.lab icscf.ims-1.lab\n#-clearwater-aio\n"
			for name, want := range map[string]string{LocalConfig: wantLocal, SharedConfig: wantShared, Hosts: wantHosts} {
				if got := readFileT(t, root, name); got != want {
					t.Errorf("%s:\n got %q\nwant %q", name, got, want)
				}
			}
			want := Result{Changed: true, HostsChanged: true, ClusterReset: true, Changes: []Change{
				{LocalConfig, Update}, {SharedConfig, Update}, {Hosts, Update}}}
			if v.Address.Is6() {
				want.Changes = append(want.Changes, Change{ChronosConfig, Create})
				want.Warnings = IPv6Limits
				if got, wantConf := readFileT(t, root, ChronosConfig), "[http]\nbind-address = ::\n"; got != wantConf {
					t.Errorf("%s:\n got %q\nwant %q", ChronosConfig, got, wantConf)
				}
			} else if _, err := os.Lstat(filepath.Join(root, ChronosConfig)); !os.IsNotExist(err) {
				t.Errorf("%s on IPv4: %v, want none", ChronosConfig, err)
			}
			if !reflect.DeepEqual(res, want) {
				t.Errorf("Result = %+v, want %+v", res, want)
			}
		})
	}
}

// An operator's file: CRLF, comments, look-alike keys, a duplicate, no trailing newline.
func TestApplyKeepsOperatorBytes(t *testing.T) {
	in := "# mine\r\nlocal_ip_extra=1\r\n#local_ip=2\r\n\r\n  local_ip=3\r\nlocal_ip=9.9.9.9\r\n" +
		"etcd_cluster=\"9.9.9.9\"\r\nlocal_ip=8.8.8.8\r\nmax_log_directory_size=1"
	want := "# mine\r\nlocal_ip_extra=1\r\n#local_ip=2\r\n\r\n  local_ip=3\r\nlocal_ip=10.0.0.5\r\n" +
		"etcd_cluster=10.0.0.5\r\nmax_log_directory_size=1\r\npublic_ip=10.0.0.5\r\npublic_hostname=cw-aio"
	root := newRoot(t, map[string]string{LocalConfig: in})
	v := v4()
	apply(t, root, v)
	if got := readFileT(t, root, LocalConfig); got != want {
		t.Errorf("local_config:\n got %q\nwant %q", got, want)
	}
	v.Previous = v.Address
	if res := apply(t, root, v); res.Changed {
		t.Errorf("rerun: %+v", res)
	}
}

func TestApplyFreshTree(t *testing.T) {
	root := newRoot(t, nil)
	res := apply(t, root, v4())
	want := Result{Changed: true, HostsChanged: true, ClusterReset: true, Changes: []Change{
		{LocalConfig, Create}, {SharedConfig, Create}, {Hosts, Create}}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("Result = %+v, want %+v", res, want)
	}
	wantLocal := "local_ip=10.0.0.5\npublic_ip=10.0.0.5\npublic_hostname=cw-aio\netcd_cluster=10.0.0.5\n"
	if got := readFileT(t, root, LocalConfig); got != wantLocal {
		t.Errorf("local_config = %q, want %q", got, wantLocal)
	}
	if got, want := readFileT(t, root, Hosts), "#+clearwater-aio\n"+entry+"\n#-clearwater-aio\n"; got != want {
		t.Errorf("hosts = %q, want %q", got, want)
	}
	for name, mode := range map[string]fs.FileMode{
		"/etc": fs.ModeDir | 0o755, "/etc/clearwater": fs.ModeDir | 0o755,
		LocalConfig: 0o644, SharedConfig: 0o644, Hosts: 0o644,
	} {
		info, err := os.Stat(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", name, info.Mode(), mode)
		}
	}
	assertNoTemp(t, root)
}

func assertNoTemp(t *testing.T, root string) {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(root, "etc", "*", ".*"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join(root, "etc", ".*"))
	for _, m := range append(matches, more...) {
		if rootfs.IsTemp(filepath.Base(m)) {
			t.Errorf("temp file left behind: %s", m)
		}
	}
}

// A rerun with the same input, with or without the last address, writes nothing: same inodes,
// same mtimes, same bytes.
func TestRerunWritesNothing(t *testing.T) {
	for _, prev := range []netip.Addr{{}, mustAddr("10.0.0.5")} {
		t.Run(fmt.Sprint("previous=", prev), func(t *testing.T) {
			root := newRoot(t, map[string]string{LocalConfig: localTemplate, SharedConfig: sharedTemplate,
				Hosts: strings.ReplaceAll(hostsTemplate, "\n", "\r\n")})
			v := v4()
			v.Previous = prev
			apply(t, root, v)
			before := treeState(t, root)
			res := apply(t, root, v)
			if res.Changed || res.HostsChanged || len(res.Changes) > 0 {
				t.Errorf("second run: %+v, want no change", res)
			}
			if after := treeState(t, root); after != before {
				t.Errorf("second run changed the tree:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if p, err := Plan(root, v); err != nil || p.Changed {
				t.Errorf("Plan after the run = %+v, %v; want no change", p, err)
			}
		})
	}
}

func withClusterState(t *testing.T, root string) {
	t.Helper()
	writeFile(t, root, ClusterSettings, "servers=10.0.0.9\n")
	writeFile(t, root, EtcdData+"/member/snap/db", "data")
	writeFile(t, root, EtcdData+"/.hidden", "x")
}

func assertCleared(t *testing.T, root string, cleared bool) {
	t.Helper()
	_, err := os.Lstat(filepath.Join(root, ClusterSettings))
	if gone := os.IsNotExist(err); gone != cleared {
		t.Errorf("cluster_settings gone = %v (%v), want %v", gone, err, cleared)
	}
	names, err := os.ReadDir(filepath.Join(root, EtcdData))
	if err != nil {
		t.Fatalf("etcd dir must stay: %v", err)
	}
	if empty := len(names) == 0; empty != cleared {
		t.Errorf("etcd dir empty = %v (%d entries), want %v", empty, len(names), cleared)
	}
}

func TestClusterReset(t *testing.T) {
	tests := []struct {
		name     string
		previous netip.Addr
		reset    bool
	}{
		{"first run", netip.Addr{}, true},
		{"address changed", mustAddr("10.0.0.9"), true},
		{"family changed", mustAddr("2001:db8::5"), true},
		{"same address", mustAddr("10.0.0.5"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRoot(t, nil)
			apply(t, root, v4()) // config in place: only the reset is left to do
			withClusterState(t, root)
			v := v4()
			v.Previous = tt.previous
			p, err := Plan(root, v)
			if err != nil {
				t.Fatal(err)
			}
			res := apply(t, root, v)
			if !reflect.DeepEqual(p, res) {
				t.Errorf("Plan = %+v, Apply = %+v", p, res)
			}
			assertCleared(t, root, tt.reset)
			var want []Change
			if tt.reset {
				want = []Change{{ClusterSettings, Remove}, {EtcdData, EmptyDir}}
			}
			if res.ClusterReset != tt.reset || res.Changed != tt.reset || !reflect.DeepEqual(res.Changes, want) || res.HostsChanged {
				t.Errorf("Result = %+v, want reset %v with changes %v", res, tt.reset, want)
			}
		})
	}
}

// Emptying the etcd dir never reaches through a symlink: the targets outside the root survive.
func TestEmptyEtcdKeepsSymlinkTargets(t *testing.T) {
	root := newRoot(t, nil)
	outside := t.TempDir()
	writeFile(t, outside, "precious", "keep me")
	writeFile(t, outside, "dir/precious", "keep me too")
	etcd := filepath.Join(root, EtcdData)
	writeFile(t, root, EtcdData+"/member/wal", "w")
	relOut, err := filepath.Rel(etcd, outside)
	if err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"abs-file":        filepath.Join(outside, "precious"),
		"abs-dir":         filepath.Join(outside, "dir"),
		"rel-dir":         filepath.Join(relOut, "dir"),
		"member/rel-file": filepath.Join("..", relOut, "precious"),
		"dangling":        "/nonexistent/x",
	} {
		if err := os.Symlink(target, filepath.Join(etcd, link)); err != nil {
			t.Fatal(err)
		}
	}
	before := treeState(t, outside)
	res := apply(t, root, v4())
	if !res.ClusterReset {
		t.Errorf("ClusterReset = false on a first run")
	}
	assertCleared(t, root, true)
	if after := treeState(t, outside); after != before {
		t.Errorf("outside the root changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// Bad input: an error, and not one byte, mode, owner or mtime changes anywhere.
func TestInvalidChangesNothing(t *testing.T) {
	good := v4()
	tests := []struct {
		name string
		edit func(*Values)
	}{
		{"no address", func(v *Values) { v.Address = netip.Addr{} }},
		{"0.0.0.0", func(v *Values) { v.Address = mustAddr("0.0.0.0") }},
		{"::", func(v *Values) { v.Address = mustAddr("::") }},
		{"loopback v4", func(v *Values) { v.Address = mustAddr("127.0.0.1") }},
		{"loopback v6", func(v *Values) { v.Address = mustAddr("::1") }},
		{"multicast v4", func(v *Values) { v.Address = mustAddr("224.0.0.1") }},
		{"multicast v6", func(v *Values) { v.Address = mustAddr("ff02::1") }},
		{"link-local v4", func(v *Values) { v.Address = mustAddr("169.254.1.1") }},
		{"link-local v6", func(v *Values) { v.Address = mustAddr("fe80::1") }},
		{"zoned link-local", func(v *Values) { v.Address = mustAddr("fe80::1%eth0") }},
		{"zoned global", func(v *Values) { v.Address = mustAddr("2001:db8::5%eth0") }},
		{"v4-mapped", func(v *Values) { v.Address = mustAddr("::ffff:10.0.0.5") }},
		{"broadcast", func(v *Values) { v.Address = mustAddr("255.255.255.255") }},
		{"bad public IP", func(v *Values) { v.PublicIP = mustAddr("127.0.0.1") }},
		{"empty hostname", func(v *Values) { v.Hostname = "" }},
		{"hostname with space", func(v *Values) { v.Hostname = "cw aio" }},
		{"hostname with newline", func(v *Values) { v.Hostname = "cw\nlocal_ip=1.2.3.4" }},
		{"hostname with underscore", func(v *Values) { v.Hostname = "cw_aio" }},
		{"hostname label starts with -", func(v *Values) { v.Hostname = "-cw" }},
		{"hostname empty label", func(v *Values) { v.Hostname = "cw..aio" }},
		{"hostname with quote", func(v *Values) { v.Hostname = `cw"aio` }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRoot(t, map[string]string{LocalConfig: localTemplate, SharedConfig: sharedTemplate, Hosts: hostsTemplate})
			withClusterState(t, root)
			v := good
			tt.edit(&v)
			before := treeState(t, root)
			if _, err := Plan(root, v); err == nil {
				t.Errorf("Plan(%+v): no error", v)
			}
			res, err := Apply(root, v)
			if err == nil {
				t.Errorf("Apply(%+v): no error", v)
			} else if !strings.HasPrefix(err.Error(), "aioconfig: ") {
				t.Errorf("error %q does not say where it comes from", err)
			}
			if res.Changed || len(res.Changes) > 0 {
				t.Errorf("Result = %+v on an error", res)
			}
			if after := treeState(t, root); after != before {
				t.Errorf("tree changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// An image that keeps its config and etcd's data on a data volume through absolute symlinks, and
// /etc/hosts through a relative one, is configured as in a chroot: the targets inside the root
// are written and emptied, the symlinks stay, and a symlink that climbs out of the root stays in.
func TestSymlinkedTree(t *testing.T) {
	root := newRoot(t, map[string]string{"/data/clearwater/local_config": localTemplate,
		"/data/clearwater/shared_config": sharedTemplate, "/etc/hosts.real": hostsTemplate,
		"/data/clearwater/cluster_settings": "servers=10.0.0.9\n", "/data/etcd/member/snap/db": "data"})
	outside := t.TempDir()
	writeFile(t, outside, "etc/hosts", "the host's\n")
	mustMkdir(t, filepath.Join(root, "var/lib"))
	mustSymlink(t, "/data/clearwater", filepath.Join(root, "etc/clearwater"))
	mustSymlink(t, "/data/etcd", filepath.Join(root, EtcdData))
	mustSymlink(t, "hosts.real", filepath.Join(root, Hosts))
	before := treeState(t, outside)
	res := apply(t, root, v4())
	if !res.ClusterReset || !res.HostsChanged {
		t.Errorf("Result = %+v, want a reset and new hosts", res)
	}
	if got := readFileT(t, root, "/data/clearwater/local_config"); !strings.Contains(got, "local_ip=10.0.0.5\n") {
		t.Errorf("local_config through the symlink:\n%s", got)
	}
	if got := readFileT(t, root, "/etc/hosts.real"); !strings.Contains(got, "10.0.0.5 cw-aio") {
		t.Errorf("hosts through the symlink:\n%s", got)
	}
	if _, err := os.Lstat(filepath.Join(root, "data/clearwater/cluster_settings")); !os.IsNotExist(err) {
		t.Errorf("cluster_settings through the symlink: %v", err)
	}
	if names, err := os.ReadDir(filepath.Join(root, "data/etcd")); err != nil || len(names) != 0 {
		t.Errorf("etcd's data through the symlink: %v, %v; want an empty folder", names, err)
	}
	for link, want := range map[string]string{"etc/clearwater": "/data/clearwater", EtcdData: "/data/etcd", Hosts: "hosts.real"} {
		if got, err := os.Readlink(filepath.Join(root, link)); got != want {
			t.Errorf("%s -> %q, %v; want -> %s", link, got, err, want)
		}
	}
	// A link that climbs out (as an absolute link from the host's view would) lands inside.
	os.Remove(filepath.Join(root, Hosts))
	mustSymlink(t, "../../../../../../.."+outside+"/etc/hosts", filepath.Join(root, Hosts))
	apply(t, root, Values{Address: mustAddr("10.0.0.6"), Hostname: "cw-aio"})
	if got := readFileT(t, root, outside+"/etc/hosts"); !strings.Contains(got, "10.0.0.6 cw-aio") {
		t.Errorf("hosts through the climbing symlink:\n%s", got)
	}
	if after := treeState(t, outside); after != before {
		t.Errorf("outside the root changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// A tree we cannot write as asked is an error before anything is written.
func TestBadTreeChangesNothing(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, root string)
	}{
		{"hosts is a directory", func(t *testing.T, root string) { mustMkdir(t, filepath.Join(root, Hosts)) }},
		{"/etc/clearwater is a file", func(t *testing.T, root string) {
			os.RemoveAll(filepath.Join(root, "etc/clearwater"))
			writeFile(t, root, "/etc/clearwater", "x")
		}},
		{"etcd dir is a file", func(t *testing.T, root string) {
			os.RemoveAll(filepath.Join(root, EtcdData))
			writeFile(t, root, EtcdData, "x")
		}},
		{"cluster_settings is a directory", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, ClusterSettings))
			mustMkdir(t, filepath.Join(root, ClusterSettings))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRoot(t, map[string]string{LocalConfig: localTemplate, SharedConfig: sharedTemplate})
			withClusterState(t, root)
			tt.setup(t, root)
			before := treeState(t, root)
			_, err := Apply(root, v4())
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if after := treeState(t, root); after != before {
				t.Errorf("tree changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	if _, err := Apply(filepath.Join(t.TempDir(), "missing"), v4()); err == nil {
		t.Error("a missing root: no error")
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// requireRoot skips a test that needs root, except under CI, where it must run.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: this test needs root")
		}
		t.Skip("needs root")
	}
}

func TestModeAndOwnerKept(t *testing.T) {
	requireRoot(t)
	root := newRoot(t, map[string]string{LocalConfig: localTemplate, SharedConfig: sharedTemplate, Hosts: hostsTemplate})
	want := map[string][3]int{ // mode, uid, gid
		LocalConfig:  {0o640, 1234, 5678},
		SharedConfig: {0o600 | int(syscall.S_ISGID), 0, 42},
		Hosts:        {0o664, 4321, 0},
	}
	inodes := map[string]uint64{}
	for name, w := range want {
		p := filepath.Join(root, name)
		if err := os.Chown(p, w[1], w[2]); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Chmod(p, uint32(w[0])); err != nil {
			t.Fatal(err)
		}
		inodes[name] = stat(t, p).Ino
	}
	apply(t, root, v4())
	for name, w := range want {
		st := stat(t, filepath.Join(root, name))
		if got := [3]int{int(st.Mode & 0o7777), int(st.Uid), int(st.Gid)}; got != w {
			t.Errorf("%s: mode/uid/gid = %o/%d/%d, want %o/%d/%d", name, got[0], got[1], got[2], w[0], w[1], w[2])
		}
		if st.Ino == inodes[name] {
			t.Errorf("%s: same inode: not replaced by a rename", name)
		}
	}
	assertNoTemp(t, root)
}

// A write that fails part way returns what was done, and leaves the rest as it was.
func TestWriteFailsPartWay(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("chattr"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: chattr is missing")
		}
		t.Skip("chattr is missing")
	}
	root := newRoot(t, map[string]string{LocalConfig: localTemplate, SharedConfig: sharedTemplate, Hosts: hostsTemplate})
	withClusterState(t, root)
	etc := filepath.Join(root, "etc")
	// An immutable /etc: not even root can create the temp file for /etc/hosts.
	if out, err := exec.Command("chattr", "+i", etc).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v: %s", err, out) // a file system without the flag
	}
	t.Cleanup(func() {
		if out, err := exec.Command("chattr", "-i", etc).CombinedOutput(); err != nil {
			t.Errorf("chattr -i: %v: %s", err, out)
		}
	})
	res, err := Apply(root, v4())
	if err == nil || !strings.Contains(err.Error(), "/etc/hosts") {
		t.Fatalf("error = %v, want one about /etc/hosts", err)
	}
	want := Result{Changed: true, ClusterReset: true, Changes: []Change{{LocalConfig, Update}, {SharedConfig, Update}},
		Pending: []Change{{Hosts, Update}, {ClusterSettings, Remove}, {EtcdData, EmptyDir}}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("Result = %+v, want %+v", res, want)
	}
	if got := readFileT(t, root, Hosts); got != hostsTemplate {
		t.Errorf("hosts = %q, want it untouched", got)
	}
	if !strings.Contains(readFileT(t, root, LocalConfig), "local_ip=10.0.0.5\n") {
		t.Error("local_config was not written")
	}
	assertCleared(t, root, false)
	assertNoTemp(t, root)
}

func stat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func TestPublicIPAndHostsOnly(t *testing.T) {
	root := newRoot(t, nil)
	v := Values{Address: mustAddr("2001:db8::5"), PublicIP: mustAddr("203.0.113.7"), Hostname: "cw-aio"}
	apply(t, root, v)
	if got := readFileT(t, root, LocalConfig); !strings.Contains(got, "\npublic_ip=203.0.113.7\n") ||
		!strings.HasPrefix(got, "local_ip=2001:db8::5\n") || !strings.Contains(got, "\netcd_cluster=127.0.0.1\n") {
		t.Errorf("local_config = %q", got)
	}
	// Only the hostname changes: every file changes, the cluster is kept.
	v.Previous, v.Hostname = v.Address, "ims"
	res := apply(t, root, v)
	if !res.HostsChanged || res.ClusterReset || len(res.Changes) != 3 {
		t.Errorf("Result = %+v", res)
	}
	if got, want := readFileT(t, root, Hosts), "#+clearwater-aio\n2001:db8::5 ims scscf.ims bgcf.ims icscf.ims\n#-clearwater-aio\n"; got != want {
		t.Errorf("hosts = %q, want %q", got, want)
	}
	// An operator edits an unrelated key: nothing to do.
	writeFile(t, root, SharedConfig, readFileT(t, root, SharedConfig)+"home_domain=lab.example\n")
	if res := apply(t, root, v); res.Changed {
		t.Errorf("Result = %+v after an operator's edit", res)
	}
}

func TestPlanTouchesNothing(t *testing.T) {
	root := newRoot(t, map[string]string{LocalConfig: localTemplate, Hosts: hostsTemplate})
	withClusterState(t, root)
	before := treeState(t, root)
	p, err := Plan(root, v4())
	if err != nil {
		t.Fatal(err)
	}
	if after := treeState(t, root); after != before {
		t.Errorf("Plan changed the tree:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	res := apply(t, root, v4())
	if !reflect.DeepEqual(p, res) {
		t.Errorf("Plan = %+v, Apply = %+v", p, res)
	}
	want := []Change{{LocalConfig, Update}, {SharedConfig, Create}, {Hosts, Update}, {ClusterSettings, Remove}, {EtcdData, EmptyDir}}
	if !reflect.DeepEqual(res.Changes, want) {
		t.Errorf("Changes = %v, want %v", res.Changes, want)
	}
}

func BenchmarkApplyUnchanged(b *testing.B) {
	root := filepath.Join(b.TempDir(), "root")
	files := map[string]string{LocalConfig: localTemplate, SharedConfig: sharedTemplate, Hosts: hostsTemplate}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	v := v4()
	v.Previous = v.Address
	if _, err := Apply(root, v); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := Apply(root, v)
		if err != nil || res.Changed {
			b.Fatalf("Apply = %+v, %v", res, err)
		}
	}
}
