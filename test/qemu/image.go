package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildScript is the Debian base image recipe, relative to the repository root.
const buildScript = "images/debian/build.sh"

// DebianImage returns the path of the bootable Debian base image, building it with
// images/debian/build.sh when the cache (CLEARWATER_IMAGE_CACHE, default <repo>/.cache/images)
// has none for the recipe's current inputs. A cold build takes minutes and needs root; a
// cached one about a second. The script's progress is copied to progress (may be nil). args
// go to the script: "--init", "sysvinit" or "--arch", "arm64" pick a variant.
func DebianImage(ctx context.Context, progress io.Writer, args ...string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, buildScript), args...)
	// On cancellation, SIGTERM the script's whole process group: bash runs its clean-up trap
	// (unmount, remove the scratch root) only once debootstrap, its foreground child, is gone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if progress != nil {
		cmd.Stderr = progress
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w", buildScript, err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	image := lines[len(lines)-1]
	if _, err := os.Stat(image); err != nil {
		return "", fmt.Errorf("%s printed %q, not an image: %w", buildScript, image, err)
	}
	return image, nil
}

// DebianImageVariant is DebianImage for a variant of the recipe (build.sh --variant), such as
// "cloud": the base plus openssh-server, sudo and cloud-init's default user.
func DebianImageVariant(ctx context.Context, variant string, progress io.Writer, args ...string) (string, error) {
	return DebianImage(ctx, progress, append([]string{"--variant", variant}, args...)...)
}

// repoRoot finds the repository from the working directory (a test runs in its package's
// directory) by walking up to the directory that holds the build script.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 64 {
		if _, err := os.Stat(filepath.Join(dir, buildScript)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("no " + buildScript + " above the working directory")
}

// Tools are the programs Boot and its helpers run, with the Debian package of each.
var Tools = map[string]string{
	"qemu-system-x86_64": "qemu-system-x86",
	"qemu-img":           "qemu-utils",
	"genisoimage":        "genisoimage",
	"debugfs":            "e2fsprogs",
}

// RequireTools skips tb when a program in Tools (or one of extra) is missing, naming its
// package, or fails it instead when CI=true: CI machines must have them.
func RequireTools(tb testing.TB, extra ...string) {
	tb.Helper()
	var missing []string
	names := extra
	for name := range Tools {
		names = append(names, name)
	}
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if pkg, ok := Tools[name]; ok {
				name += " (Debian package " + pkg + ")"
			}
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing tools: " + strings.Join(missing, ", ")
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}
