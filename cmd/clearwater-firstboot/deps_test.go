package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The helper goes into every image: it must never pull in the Packer SDK (the plugin parts import
// the helper's packages, never the reverse) nor net/http (which would double its size).
func TestHelperStaysLean(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/hashicorp/") || pkg == "net/http" {
			t.Errorf("the helper imports %s", pkg)
		}
	}
}
