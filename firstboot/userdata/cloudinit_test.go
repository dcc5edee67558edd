package userdata

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// divergent lists the table's inputs that Parse reads differently from cloud-init, on purpose.
var divergent = map[string]string{
	"BOM":                            "cloud-init does not skip a byte-order mark, so it ignores the part; Parse reads it (and notes it)",
	"jinja cloud-config":             "cloud-init renders the template with instance data; Parse reads it unrendered",
	"MIME nested too deep":           "Parse stops at MaxDepth",
	"too many parts":                 "Parse stops at MaxParts",
	"gzip bomb":                      "Parse stops at MaxDecompressed",
	"MIME gzip-typed part, not gzip": "cloud-init drops the part; Parse lists it with a note",
	"gzip just under the bound":      "too large for a quick oracle run",
	"include":                        "cloud-init fetches the URLs; Parse never does",
	"include-once":                   "cloud-init fetches the URLs; Parse never does",
}

// oracleResult is what testdata/cloudinit_oracle.py prints for one input.
type oracleResult struct {
	Types  []string `json:"types"`
	Force  *bool    `json:"force"`
	Marker bool     `json:"marker"`
	Error  string   `json:"error"`
}

// TestAgainstCloudInit reads every input of the table with cloud-init's own Python code (the
// cloud-init package of this machine) and checks that Parse sees the same parts and the same
// toggle, except where divergent says why not.
func TestAgainstCloudInit(t *testing.T) {
	python := "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import cloudinit.user_data").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cloud-init's Python package is needed (apt-get install cloud-init): %v", err)
		}
		t.Skipf("cloud-init's Python package is not installed: %v", err)
	}
	dir := t.TempDir()
	cases := parseCases(t)
	args := []string{filepath.Join("testdata", "cloudinit_oracle.py")}
	for i, c := range cases {
		if divergent[c.name] != "" {
			continue
		}
		p := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(p, c.in, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out, err := exec.Command(python, args...).Output()
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	var oracle map[string]oracleResult
	if err := json.Unmarshal(out, &oracle); err != nil {
		t.Fatalf("oracle output: %v\n%s", err, out)
	}
	for i, c := range cases {
		if divergent[c.name] != "" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			want, ok := oracle[fmt.Sprint(i)]
			if !ok {
				t.Fatal("no answer from cloud-init")
			}
			r := Parse(c.in)
			if want.Error != "" { // cloud-init fails on the whole user-data: so must Parse
				if r.Force != nil || r.Marker || len(r.DropIns) > 0 || !strings.Contains(strings.Join(r.Notes, "\n"), "no toggle from user-data") {
					t.Errorf("cloud-init fails (%s) but Parse found a toggle or said nothing: %q", want.Error, r.Notes)
				}
				return
			}
			var types []string
			for _, p := range r.Parts {
				if p.Type != typeCloudConfigArchive { // cloud-init lists only the entries
					types = append(types, p.Type)
				}
			}
			if !reflect.DeepEqual(types, want.Types) && !(len(types) == 0 && len(want.Types) == 0) {
				t.Errorf("part types %q, cloud-init sees %q", types, want.Types)
			}
			if !reflect.DeepEqual(r.Force, want.Force) {
				t.Errorf("Force = %s, cloud-init's merged config says %s", show(r.Force), show(want.Force))
			}
			if r.Marker != want.Marker {
				t.Errorf("Marker = %v, cloud-init's merged write_files say %v", r.Marker, want.Marker)
			}
		})
	}
}
