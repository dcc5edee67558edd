package status

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/aioconfig"
)

// The summary says what was written, what was not and what was left, and never calls the config
// up to date when writing it failed.
func TestSummaryNeverContradictsTheError(t *testing.T) {
	base := Report{Family: "ipv4", Address: "192.0.2.10", Interface: "eth0", Mode: "run", ForceSource: "none"}
	local := aioconfig.Change{Path: aioconfig.LocalConfig, Action: aioconfig.Update}
	hosts := aioconfig.Change{Path: aioconfig.Hosts, Action: aioconfig.Update}
	tests := []struct {
		name      string
		edit      func(r *Report)
		want, not []string
	}{
		{"up to date", func(r *Report) {}, []string{"config already up to date"}, []string{"error", "not done"}},
		{"written", func(r *Report) { r.Changes = []aioconfig.Change{local} }, []string{"update " + aioconfig.LocalConfig}, []string{"up to date", "not done"}},
		{"nothing written", func(r *Report) {
			r.Error = "could not write /etc/clearwater/local_config: read-only file system"
			r.NotWritten = []aioconfig.Change{local, hosts}
		}, []string{"error: could not write /etc/clearwater/local_config: read-only file system", "not done: update " + aioconfig.LocalConfig + " (left as it was)",
			"not done: update /etc/hosts", "nothing written: Clearwater's config is left as it was"}, []string{"up to date"}},
		{"partly written", func(r *Report) {
			r.Error = "could not write /etc/hosts: no space left on device"
			r.Changes, r.NotWritten = []aioconfig.Change{local}, []aioconfig.Change{hosts}
		}, []string{"update " + aioconfig.LocalConfig + "\n", "not done: update /etc/hosts", "partly written"}, []string{"up to date", "nothing written"}},
		{"failed before writing", func(r *Report) { r.Error = "could not write /etc/hosts: a symlink" }, []string{"error: ", "nothing written"}, []string{"up to date"}},
	}
	for _, tt := range tests {
		r := base
		tt.edit(&r)
		s := r.Summary()
		for _, w := range tt.want {
			if !strings.Contains(s, w) {
				t.Errorf("%s: summary lacks %q:\n%s", tt.name, w, s)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(s, n) {
				t.Errorf("%s: summary says %q:\n%s", tt.name, n, s)
			}
		}
	}
}

// Lists are [] when empty, never null or missing, in what the helper prints and in the file.
func TestJSONListsAreNeverNull(t *testing.T) {
	root := t.TempDir()
	rep := Report{Mode: "plan", Error: "no usable address"}
	if err := WriteJSON(root, File, rep); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, File))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"reasons", "warnings", "changes", "not_written"} {
		if l, ok := m[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%q = %#v, want []\n%s", k, m[k], data)
		}
	}
	back, err := Read(root)
	if err != nil || back.Mode != "plan" || back.Error != rep.Error {
		t.Errorf("Read = %+v, %v", back, err)
	}
}
