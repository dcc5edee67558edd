package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
)

// What cloud-init leaves of a build instance (or of the instance a snapshot was taken of) whose
// user-data carried the toggle as the data source rendered it before v0.2: its write_files
// marker and drop-in, and its record of that user-data.
const (
	buildInstance = "build-0001"
	buildUserData = "#cloud-config\nwrite_files:\n  - path: /etc/clearwater/force_ipv6\n    content: \"\"\n" +
		"  - path: /etc/clearwater/firstboot.d/90-clearwater-userdata.yaml\n    content: |\n      ipv6_timeout: 45s\n"
	buildFalseUserData = "#cloud-config\nwrite_files:\n  - path: /etc/clearwater/firstboot.d/90-clearwater-userdata.yaml\n    content: |\n      force_ipv6: false\n"
)

// buildLeftovers lays out, under root, what cloud-init wrote for the build instance from
// userData, and cloud-init's record of this boot's instance, current.
func buildLeftovers(t *testing.T, root, userData, current string) {
	t.Helper()
	put(t, root, "var/lib/cloud/instances/"+buildInstance+"/user-data.txt", userData)
	if strings.Contains(userData, "/etc/clearwater/force_ipv6") {
		put(t, root, MarkerFile, "")
	}
	if i := strings.Index(userData, "content: |\n"); i >= 0 {
		body := strings.ReplaceAll(strings.TrimPrefix(userData[i+len("content: |\n"):], "      "), "\n      ", "\n")
		put(t, root, "etc/clearwater/firstboot.d/90-clearwater-userdata.yaml", body)
	}
	if current != "" {
		put(t, root, "run/cloud-init/instance-data.json", `{"v1": {"instance_id": "`+current+`"}}`)
	}
}

// TestBuildInstanceToggleNeverDecides: an instance of an image whose build instance's user-data
// forced IPv6 (cloud-init wrote the marker and a drop-in) chooses IPv4 on a dual-stack network
// without user-data of its own, and says which files it ignored and why. Before, the marker
// forced every instance of the image.
func TestBuildInstanceToggleNeverDecides(t *testing.T) {
	root := t.TempDir()
	buildLeftovers(t, root, buildUserData, "i-0002")
	r := cli(t, decideArgs("plan", root, snap("dual-stack")...)...)
	if r.code != exitcode.Decided || r.rep.Family != "ipv4" || r.rep.ForceIPv6 || r.rep.ForceSource != "none" {
		t.Fatalf("code %d family %q force %t from %q; want ipv4, not forced (none)\n%s", r.code, r.rep.Family, r.rep.ForceIPv6, r.rep.ForceSource, r.stdout)
	}
	for _, f := range []string{MarkerFile, "/etc/clearwater/firstboot.d/90-clearwater-userdata.yaml"} {
		if !hasSubstring(r.rep.Warnings, "ignored "+f+": cloud-init wrote it from the user-data of instance "+buildInstance+", not of this one (i-0002") {
			t.Errorf("no warning that %s was ignored: %q", f, r.rep.Warnings)
		}
	}
	// The baked config still decides: the provisioner's force_ipv6 is a deliberate bake.
	put(t, root, "etc/clearwater/firstboot.yaml", "force_ipv6: true\n")
	if r := cli(t, decideArgs("plan", root, snap("dual-stack")...)...); r.rep.Family != "ipv6" || r.rep.ForceSource != "config" {
		t.Errorf("baked force_ipv6: family %q from %q, want ipv6 from config", r.rep.Family, r.rep.ForceSource)
	}
}

// TestBuildInstanceFalseNeverUndoesTheBake is the reverse: the build instance's user-data said
// force_ipv6: false in a drop-in, the provisioner baked true; every instance is forced. Before,
// the drop-in (a user-data drop-in sorts after the baked file) silently won.
func TestBuildInstanceFalseNeverUndoesTheBake(t *testing.T) {
	root := t.TempDir()
	buildLeftovers(t, root, buildFalseUserData, "i-0002")
	put(t, root, "etc/clearwater/firstboot.yaml", "force_ipv6: true\n")
	r := cli(t, decideArgs("plan", root, snap("dual-stack")...)...)
	if r.code != exitcode.Decided || r.rep.Family != "ipv6" || !r.rep.ForceIPv6 || r.rep.ForceSource != "config" {
		t.Fatalf("code %d family %q force %t from %q; want ipv6 forced by config\n%s", r.code, r.rep.Family, r.rep.ForceIPv6, r.rep.ForceSource, r.stdout)
	}
}

// TestOwnInstanceFilesCount: on the instance whose user-data wrote them (cloud-init's record
// for this boot names it), the files count as they always did; and an operator's own
// write_files, read from this instance's user-data, still force.
func TestOwnInstanceFilesCount(t *testing.T) {
	root := t.TempDir()
	buildLeftovers(t, root, buildUserData, buildInstance)
	r := cli(t, decideArgs("plan", root, snap("dual-stack")...)...)
	if r.rep.Family != "ipv6" || r.rep.ForceSource != "marker" || hasSubstring(r.rep.Warnings, "ignored") {
		t.Errorf("the booting instance's own files: family %q from %q, warnings %q; want ipv6 from the marker", r.rep.Family, r.rep.ForceSource, r.rep.Warnings)
	}
	root = t.TempDir()
	buildLeftovers(t, root, buildUserData, "i-0002")
	ud := filepath.Join(t.TempDir(), "user-data")
	if err := os.WriteFile(ud, []byte(buildUserData), 0o600); err != nil {
		t.Fatal(err)
	}
	r = cli(t, decideArgs("plan", root, append(snap("dual-stack"), "--user-data", ud)...)...)
	if r.rep.Family != "ipv6" || r.rep.ForceSource != "user-data:write_files" || hasSubstring(r.rep.Warnings, "ignored") {
		t.Errorf("this instance's user-data writes the same files: family %q from %q, warnings %q", r.rep.Family, r.rep.ForceSource, r.rep.Warnings)
	}
}

// TestResetRemovesWhatUserDataWrote: reset (the provisioner's reset_instance_state) removes the
// marker and drop-in that the build instance's user-data wrote, and nothing else: not a baked
// config, not an operator's own drop-in, not a file the user-data did not write.
func TestResetRemovesWhatUserDataWrote(t *testing.T) {
	root := t.TempDir()
	buildLeftovers(t, root, buildUserData, "")
	put(t, root, "etc/clearwater/firstboot.yaml", "hostname: baked\n")
	put(t, root, "etc/clearwater/firstboot.d/50-site.yaml", "ipv4_wait: 20s\n")
	r := cli(t, "reset", "--root", root)
	if r.code != exitcode.Decided {
		t.Fatalf("reset: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, f := range []string{MarkerFile, "/etc/clearwater/firstboot.d/90-clearwater-userdata.yaml"} {
		if _, err := os.Lstat(filepath.Join(root, f)); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", f, err)
		}
		if !strings.Contains(r.stdout, "removed "+f+": cloud-init wrote it from the user-data of instance "+buildInstance) {
			t.Errorf("reset does not say it removed %s:\n%s", f, r.stdout)
		}
	}
	for _, f := range []string{"etc/clearwater/firstboot.yaml", "etc/clearwater/firstboot.d/50-site.yaml", "var/lib/cloud/instances/" + buildInstance + "/user-data.txt"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("reset removed %s: %v", f, err)
		}
	}
	if r := cli(t, "reset", "--root", root); r.code != exitcode.Decided || !strings.Contains(r.stdout, "no file of the toggle or config") {
		t.Errorf("reset again: exit %d\n%s", r.code, r.stdout)
	}
}

// TestResetNeverLeavesTheRoot: a marker that links to a host path is resolved inside the root, as
// in a chroot: the host's file is never removed.
func TestResetNeverLeavesTheRoot(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	host := filepath.Join(outside, "force_ipv6")
	if err := os.WriteFile(host, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	put(t, root, "var/lib/cloud/instances/"+buildInstance+"/user-data.txt", buildUserData)
	if err := os.MkdirAll(filepath.Join(root, "etc/clearwater"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(root, MarkerFile)); err != nil {
		t.Fatal(err)
	}
	cli(t, "reset", "--root", root)
	if _, err := os.Stat(host); err != nil {
		t.Errorf("reset removed a file outside the root: %v", err)
	}
}
