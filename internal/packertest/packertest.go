// Package packertest runs the pinned packer binary (bin/packer) against this
// plugin in tests: it builds the plugin once per test binary, installs it
// into a temporary plugin directory as github.com/clearwater-aio/clearwater
// (so components are named clearwater-*), and runs packer with a clean,
// offline configuration.
//
// A test package that uses it must call Run from TestMain, which removes the
// plugin build when the tests end:
//
//	func TestMain(m *testing.M) { os.Exit(packertest.Run(m)) }
//
// Then, in a test:
//
//	env := packertest.New(t)                     // skips without bin/packer unless CI=true
//	res := env.Build(t, dir, "template.pkr.hcl") // packer build -color=false
//	if res.ExitCode != 0 { t.Fatal(res.Output) }
//
// Tests that need to signal packer use env.Command to get an *exec.Cmd.
package packertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// PluginID is the identifier the plugin is installed under.
const PluginID = "github.com/clearwater-aio/clearwater"

var (
	mainCalled bool
	tmpDir     string
	buildOnce  sync.Once
	pluginBin  string
	buildErr   error
)

// Run runs the tests of m and then removes what packertest built. Call it
// from TestMain.
func Run(m *testing.M) int {
	mainCalled = true
	code := m.Run()
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	return code
}

// RepoRoot returns the module's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// PackerPath returns the path of the pinned packer binary, bin/packer.
func PackerPath() string { return filepath.Join(RepoRoot(), "bin", "packer") }

// Env is one packer configuration with the plugin installed.
type Env struct {
	// Packer is the packer binary.
	Packer string
	// PluginPath is PACKER_PLUGIN_PATH.
	PluginPath string
	// ConfigDir is PACKER_CONFIG_DIR (it also holds the cache).
	ConfigDir string
}

// Result is what a packer run printed and how it exited.
type Result struct {
	Output   string // stdout and stderr, interleaved
	ExitCode int
}

// New builds the plugin (once per test binary), installs it into a fresh
// temporary plugin directory and returns the environment. It skips the
// test when bin/packer is missing, unless CI=true (then it fails).
func New(t testing.TB) *Env {
	t.Helper()
	if !mainCalled {
		t.Fatal("packertest: call packertest.Run from TestMain: func TestMain(m *testing.M) { os.Exit(packertest.Run(m)) }")
	}
	packer := PackerPath()
	if _, err := os.Stat(packer); err != nil {
		msg := fmt.Sprintf("packertest: %s is missing: build it with `cd tools/packer && go build -o ../../bin/packer github.com/hashicorp/packer`", packer)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	buildOnce.Do(buildPlugin)
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	dir := t.TempDir()
	e := &Env{Packer: packer, PluginPath: filepath.Join(dir, "plugins"), ConfigDir: filepath.Join(dir, "config")}
	res := e.run(t, context.Background(), dir, "plugins", "install", "--path", pluginBin, PluginID)
	if res.ExitCode != 0 {
		t.Fatalf("packertest: packer plugins install failed (exit %d):\n%s", res.ExitCode, res.Output)
	}
	return e
}

// buildPlugin builds the plugin binary into a temporary directory.
func buildPlugin() {
	tmpDir, buildErr = os.MkdirTemp("", "packertest-")
	if buildErr != nil {
		return
	}
	pluginBin = filepath.Join(tmpDir, "packer-plugin-clearwater")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(gobin, "build", "-o", pluginBin, ".")
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("packertest: building the plugin: %v\n%s", err, out)
	}
}

// Environ returns the environment packer runs with: the caller's, plus an
// offline, private packer configuration.
func (e *Env) Environ() []string {
	return append(os.Environ(),
		"CHECKPOINT_DISABLE=1",
		"PACKER_PLUGIN_PATH="+e.PluginPath,
		"PACKER_CONFIG_DIR="+e.ConfigDir,
		"PACKER_CACHE_DIR="+filepath.Join(e.ConfigDir, "cache"),
		"PACKER_NO_COLOR=1",
	)
}

// Command returns packer with args, to run in dir with Environ, in a
// process group of its own so that Interrupt can play Ctrl-C. Its output
// is left unset.
func (e *Env) Command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.Packer, args...)
	cmd.Dir = dir
	cmd.Env = e.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// Interrupt sends SIGINT to the process group of a started Command, as a
// terminal's Ctrl-C does. Signalling packer's PID alone does nothing: its
// panicwrap parent leaves the signal to the process group.
func Interrupt(cmd *exec.Cmd) error {
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
}

func (e *Env) run(t testing.TB, ctx context.Context, dir string, args ...string) Result {
	t.Helper()
	var out bytes.Buffer
	cmd := e.Command(ctx, dir, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return Result{Output: out.String()}
	case errors.As(err, &exit):
		return Result{Output: out.String(), ExitCode: exit.ExitCode()}
	}
	t.Fatalf("packertest: running packer %v: %v", args, err)
	return Result{}
}

// Build runs `packer build -color=false [args] template` in dir.
func (e *Env) Build(t testing.TB, dir string, args ...string) Result {
	t.Helper()
	return e.run(t, t.Context(), dir, append([]string{"build", "-color=false"}, args...)...)
}

// Validate runs `packer validate [args] template` in dir.
func (e *Env) Validate(t testing.TB, dir string, args ...string) Result {
	t.Helper()
	return e.run(t, t.Context(), dir, append([]string{"validate"}, args...)...)
}
