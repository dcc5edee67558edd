package packertest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func TestValidateSeesThePlugin(t *testing.T) {
	env := New(t)
	dir := t.TempDir()
	tmpl := `source "clearwater-chroot" "x" {
  source_image = "/nonexistent/base.qcow2"
  format       = "vmdk"
}
build { sources = ["source.clearwater-chroot.x"] }
`
	if err := os.WriteFile(filepath.Join(dir, "t.pkr.hcl"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	res := env.Validate(t, dir, "t.pkr.hcl")
	if res.ExitCode == 0 {
		t.Fatalf("validate passed:\n%s", res.Output)
	}
	// Both errors come from the plugin's Prepare, so the plugin was
	// installed, found and run.
	for _, want := range []string{"source_image:", `format: "vmdk"`} {
		if !strings.Contains(res.Output, want) {
			t.Errorf("output lacks %q:\n%s", want, res.Output)
		}
	}
	installed, _ := filepath.Glob(filepath.Join(env.PluginPath, "github.com/clearwater-aio/clearwater/packer-plugin-clearwater_v*"))
	if len(installed) == 0 {
		t.Errorf("nothing installed in %s", env.PluginPath)
	}
}
