package leftover

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func put(t *testing.T, root, name, data string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

const markerUserData = "#cloud-config\nwrite_files:\n- path: /etc/clearwater/force_ipv6\n"

// TestFind: only files that exist and that a recorded instance other than the current one (ids
// without case) wrote; a file two instances wrote is listed once, for the later; with no
// current instance, every recorded one counts.
func TestFind(t *testing.T) {
	root := t.TempDir()
	put(t, root, "var/lib/cloud/instances/a-build/user-data.txt", markerUserData)
	put(t, root, "var/lib/cloud/instances/b-snapshot/user-data.txt", markerUserData+
		"- path: /etc/clearwater/firstboot.d/90-x.yaml\n  content: 'hostname: x'\n- path: /etc/clearwater/firstboot.d/91-gone.yaml\n")
	put(t, root, "var/lib/cloud/instances/C-NOW/user-data.txt", "#cloud-config\nwrite_files:\n- path: /etc/clearwater/firstboot.d/50-now.yaml\n")
	put(t, root, "var/lib/cloud/instances/no-record/obj.pkl", "")
	for _, f := range []string{"etc/clearwater/force_ipv6", "etc/clearwater/firstboot.d/90-x.yaml", "etc/clearwater/firstboot.d/50-now.yaml"} {
		put(t, root, f, "")
	}
	got, notes := Find(root, "c-now")
	want := []File{{"/etc/clearwater/force_ipv6", "b-snapshot"}, {"/etc/clearwater/firstboot.d/90-x.yaml", "b-snapshot"}}
	if !reflect.DeepEqual(got, want) || len(notes) != 0 {
		t.Errorf("Find(c-now) = %+v, notes %q; want %+v", got, notes, want)
	}
	got, _ = Find(root, "")
	if len(got) != 3 || !slices.Contains(got, File{"/etc/clearwater/firstboot.d/50-now.yaml", "C-NOW"}) {
		t.Errorf("Find with no current instance = %+v, want every recorded instance's files", got)
	}
	if got, notes := Find(t.TempDir(), "x"); got != nil || notes != nil {
		t.Errorf("no cloud-init records: %+v %q", got, notes)
	}
}
