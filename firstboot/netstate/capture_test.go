package netstate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// summary is what a snapshot says that does not change between two captures of one scenario:
// lifetimes and temporary addresses' values are left out.
func summary(s Snapshot) []string {
	var out []string
	for _, l := range s.Links {
		out = append(out, fmt.Sprintf("%d %s up=%v admin=%v lower=%v nocarrier=%v %s loopback=%v",
			l.Index, l.Name, l.Up, l.AdminUp, l.LowerUp, l.NoCarrier, l.OperState, l.Loopback))
		for _, a := range l.Addrs {
			p := a.Prefix.String()
			if a.Temporary {
				p = "(temporary)"
			}
			out = append(out, fmt.Sprintf("  %s %s tent=%v dadf=%v depr=%v temp=%v dyn=%v opt=%v",
				p, a.Scope, a.Tentative, a.DADFailed, a.Deprecated, a.Temporary, a.Dynamic, a.Optimistic))
		}
	}
	for _, r := range s.Routes {
		out = append(out, fmt.Sprintf("route v6=%v %s via %s metric %d", r.IPv6, r.Dev, r.Gateway, r.Metric))
	}
	return out
}

// TestCaptureScript reruns testdata/capture.sh and checks that it reproduces the committed
// fixtures and leaves no namespace behind.
func TestCaptureScript(t *testing.T) {
	netnstest.Require(t)
	if _, err := exec.LookPath("radvd"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs radvd (CI=true)")
		}
		t.Skip("needs radvd")
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if b, err := exec.CommandContext(ctx, "bash", "testdata/capture.sh", out).CombinedOutput(); err != nil {
		t.Fatalf("capture.sh: %v\n%s", err, b)
	}
	committed, _ := filepath.Glob("testdata/*/addrs.json")
	if len(committed) != 12 {
		t.Fatalf("%d committed scenarios, want 12", len(committed))
	}
	for _, a := range committed {
		name := filepath.Base(filepath.Dir(a))
		want := summary(fixture(t, name))
		got, err := Load(filepath.Join(out, name, "addrs.json"), filepath.Join(out, name, "routes.json"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if g := summary(got); !slices.Equal(g, want) {
			t.Errorf("%s: capture differs from the committed fixture:\ngot:\n%s\nwant:\n%s", name, strings.Join(g, "\n"), strings.Join(want, "\n"))
		}
	}
	if b, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(b), "nscap") {
		t.Errorf("capture.sh left namespaces behind:\n%s", b)
	}
}
