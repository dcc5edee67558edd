package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/buildtags"
)

// maxHelperSize bounds the helper binary as `make helper` builds it (static, stripped, with
// buildtags.Helper): it goes into every image, and net/http (for the metadata client) is the
// largest thing it links. 8 MiB until v0.2, when our own code grew by 61 KB (the per-instance
// leftovers and reset, Clearwater's IPv6 management plane, the console verdict, the exit codes)
// with no new dependency: 8.25 MiB.
const maxHelperSize = 8<<20 + 256<<10

// The helper goes into every image: it must never pull in the Packer SDK (the plugin parts import
// the helper's packages, never the reverse), and it stays within maxHelperSize.
func TestHelperStaysLean(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/hashicorp/") {
			t.Errorf("the helper imports %s", pkg)
		}
	}
	if testing.Short() {
		t.Skip("-short: the size is not measured")
	}
	bin := filepath.Join(t.TempDir(), "clearwater-firstboot")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", buildtags.Helper, "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("helper: %d bytes (%.2f MiB) stripped", st.Size(), float64(st.Size())/(1<<20))
	if st.Size() > maxHelperSize {
		t.Errorf("the stripped helper is %d bytes, over the %d-byte (8.25 MiB) bound", st.Size(), maxHelperSize)
	}
}
