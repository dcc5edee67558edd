package userdata

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
)

// TestKeyCarriesSettings: every helper setting rides under the clearwater key, applied after every
// drop-in; a key the helper does not know is noted and the others still count; and the key makes
// cloud-init write nothing (Writes is empty).
func TestKeyCarriesSettings(t *testing.T) {
	r := Parse([]byte("#cloud-config\nwrite_files:\n- path: /etc/clearwater/firstboot.d/99-late.yaml\n  content: 'hostname: drop-in'\n" +
		"clearwater: {force_ipv6: false, ipv4_wait: 20s, hostname: lab, from_the_future: 1}\n"))
	if r.Force == nil || *r.Force {
		t.Fatalf("force %v, want false", r.Force)
	}
	if r.Settings == nil || r.Settings.Name != SettingsName || !r.Settings.Soft {
		t.Fatalf("settings %+v", r.Settings)
	}
	x := r.Config()
	cfg, warnings, err := config.Merge(append(config.SortDropIns(x.DropIns), x.Last...))
	if err != nil || len(warnings) > 0 {
		t.Fatalf("merge: %v %q", err, warnings)
	}
	if cfg.Hostname != "lab" || cfg.IPv4Wait != 20*time.Second || cfg.Origin["hostname"] != SettingsName {
		t.Errorf("hostname %q (from %s), ipv4_wait %s: want lab from the key, 20s", cfg.Hostname, cfg.Origin["hostname"], cfg.IPv4Wait)
	}
	if !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, "clearwater.from_the_future is not known: ignored") }) {
		t.Errorf("notes %q lack the unknown key", r.Notes)
	}
	if force, src := r.Toggle(); force || src != SourceKey {
		t.Errorf("toggle %t from %s, want false from the key", force, src)
	}
	if got := r.Writes(); !reflect.DeepEqual(got, []string{"/etc/clearwater/firstboot.d/99-late.yaml"}) {
		t.Errorf("writes %q, want only the operator's drop-in", got)
	}
}

// TestKeyBadSettingIsAWarning: a bad value under the key never fails a boot: the key's settings
// are ignored with a warning that names the key, and the toggle still counts.
func TestKeyBadSettingIsAWarning(t *testing.T) {
	r := Parse([]byte("#cloud-config\nclearwater: {force_ipv6: true, ipv6_timeout: forever}\n"))
	x := r.Config()
	_, warnings, err := config.Merge(x.Last)
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], SettingsName+": ipv6_timeout") {
		t.Errorf("err %v, warnings %q", err, warnings)
	}
	if force, src := r.Toggle(); !force || src != SourceKey {
		t.Errorf("toggle %t from %s, want true from the key", force, src)
	}
}

// TestWritesMarkerAndDropIns: Writes names the files of the toggle and config that cloud-init
// writes, by their cleaned paths.
func TestWritesMarkerAndDropIns(t *testing.T) {
	r := Parse([]byte("#cloud-config\nwrite_files:\n- path: /etc/clearwater/../clearwater/force_ipv6\n" +
		"- path: etc/clearwater/firstboot.d/90-clearwater-userdata.yaml\n  content: 'force_ipv6: false'\n- path: /etc/motd\n"))
	want := []string{MarkerPath, config.DropIn + "/90-clearwater-userdata.yaml"}
	if got := r.Writes(); !reflect.DeepEqual(got, want) {
		t.Errorf("writes %q, want %q", got, want)
	}
}
