package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
)

// A bad drop-in or clearwater: key that arrived through user-data is a warning and is ignored
// (DESIGN: "an instance's user-data never bricks its boot"): on a first boot, with no config of
// Clearwater's yet, the run decides with the baked config, writes Clearwater's config and exits 0,
// and the warning names the file and the key.
func TestBadUserDataSettingsNeverBrickTheBoot(t *testing.T) {
	const badDropIn = "#cloud-config\nwrite_files:\n  - path: /etc/clearwater/firstboot.d/50-site.yaml\n    content: |\n      ipv6_timeout: forever\n"
	for _, tc := range []struct {
		name, userData string
		onDisk         bool // cloud-init wrote the drop-in before the helper ran, as at boot
		unknown        bool // with no record of this boot: the booting instance is unknown
		want           string
	}{
		{"write_files drop-in", badDropIn, false, false, "50-site.yaml"},
		{"write_files drop-in, written by cloud-init", badDropIn, true, false, "50-site.yaml"},
		{"write_files drop-in, written by cloud-init, instance unknown", badDropIn, true, true, "50-site.yaml"},
		{"clearwater key, through cloud-init", "#cloud-config\nclearwater:\n  ipv4_wait: soon\n", true, false, "ipv4_wait"},
		{"clearwater key", "#cloud-config\nclearwater:\n  force_ipv6: true\n  on_missing_ipv6: shrug\n", false, false, "on_missing_ipv6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			put(t, root, "etc/clearwater/firstboot.yaml", "ipv6_timeout: 5s\n")
			if tc.onDisk && strings.Contains(tc.userData, "50-site.yaml") { // cloud-init's write_files
				put(t, root, "etc/clearwater/firstboot.d/50-site.yaml", "ipv6_timeout: forever\n")
			}
			ud := filepath.Join(t.TempDir(), "user-data")
			if err := os.WriteFile(ud, []byte(tc.userData), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append(snap("dual-stack"), "--user-data", ud)
			if tc.onDisk {
				// As cloud-init leaves a boot: no --user-data, its copy of this instance's.
				cloudInitRan(t, root, tc.userData)
				if tc.unknown {
					os.Remove(filepath.Join(root, "run/cloud-init/instance-data.json"))
				}
				args = snap("dual-stack")
			}
			r := cli(t, decideArgs("run", root, args...)...)
			if r.code != exitcode.Decided || r.rep.Family == "" {
				t.Fatalf("exit %d, family %q, error %q; want exit 0 and a decision\nstderr: %s", r.code, r.rep.Family, r.rep.Error, r.stderr)
			}
			if !hasSubstring(r.rep.Warnings, "ignored config from user-data") || !hasSubstring(r.rep.Warnings, tc.want) {
				t.Errorf("warnings %q do not say that %s from user-data was ignored", r.rep.Warnings, tc.want)
			}
			if !strings.Contains(read(t, root, "etc/clearwater/local_config"), "local_ip=") {
				t.Error("Clearwater's local_config was not written")
			}
			st := cli(t, "status", "--root", root)
			if st.code != exitcode.Decided || !strings.Contains(st.stdout, tc.want) {
				t.Errorf("status = %d, does not warn about %s:\n%s", st.code, tc.want, st.stdout)
			}
		})
	}
}

// cloudInitRan lays out what cloud-init leaves under root after a boot of instance i-0042 whose
// user-data is userData: its copy, the instance link, its id, and its record of this boot.
func cloudInitRan(t *testing.T, root, userData string) {
	t.Helper()
	put(t, root, "var/lib/cloud/instances/i-0042/user-data.txt", userData)
	if err := os.Symlink("/var/lib/cloud/instances/i-0042", filepath.Join(root, "var/lib/cloud/instance")); err != nil {
		t.Fatal(err)
	}
	put(t, root, "var/lib/cloud/data/instance-id", "i-0042\n")
	put(t, root, "run/cloud-init/instance-data.json", `{"v1": {"instance_id": "i-0042"}}`)
}
