package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/status"
)

// Every bad option is reported at once, each naming its option and what is accepted.
func TestConfigureNamesEveryBadOption(t *testing.T) {
	var p PostProcessor
	err := p.Configure(map[string]interface{}{
		"parallel": -1, "accelerator": "xen", "memory": 64,
		"case": []map[string]interface{}{
			{"name": "a b", "network": "ipv5", "expected_family": "ipv7"},
			{"name": "x", "network": "dual-stack", "expected_family": "ipv4", "user_data": "u", "user_data_base64": "dQ=="},
			{"name": "x", "network": "dual-stack", "expected_family": "ipv4", "user_data_base64": "%%"},
			{"name": "ipv6-only", "network": "ipv6-only", "expected_family": "ipv6"},
		},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"parallel: -1", `accelerator: "xen": want auto, kvm or tcg`, "memory: 64 MiB",
		`name "a b"`, `network "ipv5": want one of dual-stack, ipv4-only, ipv6-only`, `expected_family "ipv7": want ipv4, ipv6 or none`,
		`case "x": user_data and user_data_base64 are both set`, `case "x": user_data_base64: illegal base64`,
		`name "x": used twice`, `case "ipv6-only": a default case has that name`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	var ok PostProcessor
	if err := ok.Configure(map[string]interface{}{"default_cases": false}); err == nil || !strings.Contains(err.Error(), "nothing to verify") {
		t.Errorf("default_cases = false without a case: %v", err)
	}
	var def PostProcessor
	if err := def.Configure(map[string]interface{}{}); err != nil || def.config.Parallel != 2 || def.config.Accelerator != "auto" {
		t.Errorf("defaults: %v %+v", err, def.config)
	}
}

// The default cases expect what the image was baked with: a forced image IPv6 on dual-stack
// without user-data, and on IPv4-only the fallback (or nothing, with on_missing_ipv6 = fail).
func TestExpectedFollowsTheBakedToggle(t *testing.T) {
	plain, forced, strict := &status.Baked{OnMissingIPv6: "fallback"}, &status.Baked{ForceIPv6: true, OnMissingIPv6: "fallback"},
		&status.Baked{ForceIPv6: true, OnMissingIPv6: "fail"}
	want := map[string][3]string{ // plain, forced, strict
		"dual-stack":             {"ipv4", "ipv6", "ipv6"},
		"dual-stack-force-true":  {"ipv6", "ipv6", "ipv6"},
		"dual-stack-force-false": {"ipv4", "ipv4", "ipv4"},
		"ipv6-only":              {"ipv6", "ipv6", "ipv6"},
		"ipv4-only":              {"ipv4", "ipv4", "none"},
	}
	for _, k := range defaultCases() {
		for i, b := range []*status.Baked{plain, forced, strict} {
			got, _, err := expected(k, b)
			if err != nil || got != want[k.Name][i] {
				t.Errorf("%s baked %+v: %q, %v; want %q", k.Name, *b, got, err, want[k.Name][i])
			}
		}
	}
	if _, _, err := expected(defaultCases()[0], nil); err == nil || !strings.Contains(err.Error(), "baked_force_ipv6") {
		t.Errorf("unknown baked toggle: %v", err)
	}
}

// A wrong family fails the case naming what was expected, what was decided, from which toggle and why;
// baked_force_ipv6 overrides what the helper reports.
func TestJudge(t *testing.T) {
	marker := &status.Verdict{Family: "ipv6", Address: "2001:db8:c1ea::5", Interface: "ens2", ForceIPv6: true, ForceSource: "marker",
		Baked: &status.Baked{OnMissingIPv6: "fallback"}, Reason: "chose 2001:db8:c1ea::5 on ens2: IPv6 forced (force_ipv6)"}
	var p PostProcessor
	r := result{Case: defaultCases()[0], boot: boot{verdict: marker}}
	p.judge(&r)
	for _, w := range []string{"expected ipv4, decided ipv6 2001:db8:c1ea::5 on ens2 (force_ipv6 true from marker): chose 2001:db8:c1ea::5"} {
		if !strings.Contains(r.fail, w) {
			t.Errorf("fail = %q, lacks %q", r.fail, w)
		}
	}
	p.config.BakedForceIPv6 = 1 // TriTrue
	r = result{Case: defaultCases()[0], boot: boot{verdict: marker}}
	if p.judge(&r); r.fail != "" || r.expected != "ipv6" {
		t.Errorf("with baked_force_ipv6 = true: %q %q", r.fail, r.expected)
	}
}

// The one disk image among an artifact's files is found by its content, not its name.
func TestFindImage(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte, size int64) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if size > 0 {
			os.Truncate(p, size)
		}
		return p
	}
	mbr := make([]byte, 512)
	mbr[510], mbr[511] = 0x55, 0xaa
	q := write("a.img", []byte("QFI\xfb\x00\x00\x00\x03"), 0)
	raw := write("disk", mbr, 2<<20)
	sum := write("a.img.sha256", []byte("abc  a.img\n"), 0)
	if img, f, err := findImage(fakeArtifact{q, sum}, ""); err != nil || img != q || f != "qcow2" {
		t.Errorf("qcow2: %s %s %v", img, f, err)
	}
	if _, _, err := findImage(fakeArtifact{q, raw}, ""); err == nil || !strings.Contains(err.Error(), "set image_path") {
		t.Errorf("two images: %v", err)
	}
	if img, f, err := findImage(fakeArtifact{q, raw}, raw); err != nil || img != raw || f != "raw" {
		t.Errorf("image_path: %s %s %v", img, f, err)
	}
	if _, _, err := findImage(fakeArtifact{sum}, ""); err == nil || !strings.Contains(err.Error(), "holds no qcow2 or raw disk image") {
		t.Errorf("no image: %v", err)
	}
}

type fakeArtifact []string

func (f fakeArtifact) BuilderId() string        { return "test" }
func (f fakeArtifact) Files() []string          { return f }
func (f fakeArtifact) Id() string               { return "id" }
func (f fakeArtifact) String() string           { return "test artifact" }
func (f fakeArtifact) State(string) interface{} { return nil }
func (f fakeArtifact) Destroy() error           { return nil }

// A guest whose kernel panicked is named at once, with the kernel's reason.
func TestPanicked(t *testing.T) {
	console := "[    0.04] ..MP-BIOS bug: 8254 timer not connected to IO-APIC\r\n[    0.048000] Kernel panic - not syncing: IO-APIC + timer doesn't work!  Boot with apic=debug and send a report.\r\n[    0.048000] ---[ end Kernel panic - not syncing: IO-APIC + timer doesn't work!  Boot with apic=debug ]---\r\n"
	if got := panicked(console); got != "Kernel panic - not syncing: IO-APIC + timer doesn't work!  Boot with apic=debug and send a report." {
		t.Errorf("panicked = %q", got)
	}
	if got := panicked("[  OK  ] Reached target\r\nlogin: "); got != "" {
		t.Errorf("panicked on a healthy console: %q", got)
	}
}
