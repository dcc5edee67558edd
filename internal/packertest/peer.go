package packertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// peerBuild serializes the builds of peer plugins: two tests that want the same plugin build it
// once.
var peerBuild sync.Mutex

// PeerPlugin returns bin/packer-plugin-<name>, a plugin of HashiCorp's pinned in
// tools/packer-plugin-<name> (like packer in tools/packer), building it first when it is missing
// or older than its pin. A cold build takes minutes.
func PeerPlugin(t testing.TB, name string) string {
	t.Helper()
	peerBuild.Lock()
	defer peerBuild.Unlock()
	tools := filepath.Join(RepoRoot(), "tools", "packer-plugin-"+name)
	bin := filepath.Join(RepoRoot(), "bin", "packer-plugin-"+name)
	pin, err := os.Stat(filepath.Join(tools, "go.sum"))
	if err != nil {
		t.Fatalf("packertest: no pin for packer-plugin-%s: %v", name, err)
	}
	if fi, err := os.Stat(bin); err == nil && !fi.ModTime().Before(pin.ModTime()) {
		return bin
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin,
		"github.com/hashicorp/packer-plugin-"+name)
	cmd.Dir = tools
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("packertest: building packer-plugin-%s in %s: %v\n%s", name, tools, err, out)
	}
	t.Logf("packertest: built %s in %.1fs", bin, time.Since(start).Seconds())
	return bin
}

// InstallPeer installs the peer plugin name (PeerPlugin) into e as source, e.g.
// InstallPeer(t, "qemu", "github.com/hashicorp/qemu").
func (e *Env) InstallPeer(t testing.TB, name, source string) {
	t.Helper()
	bin := PeerPlugin(t, name)
	res := e.run(t, t.Context(), filepath.Dir(e.PluginPath), "plugins", "install", "--path", bin, source)
	if res.ExitCode != 0 {
		t.Fatalf("packertest: %s", fmt.Sprintf("packer plugins install --path %s %s (exit %d):\n%s", bin, source, res.ExitCode, res.Output))
	}
}
