// Command buildhelpers builds the clearwater-firstboot helper for every guest architecture that
// the provisioner embeds. `go generate ./provisioner/firstboot` runs it:
//
//	go run ./internal/buildhelpers -out helpers
//
// Each binary is static (CGO_ENABLED=0), stripped and built with -trimpath and without VCS
// stamping, so the same sources and toolchain give the same bytes. A binary is written to a
// temporary name and renamed into place, so a failed or interrupted build never leaves a
// truncated helper for the plugin to embed.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/metadata"
	"github.com/clearwater-aio/packer-plugin-clearwater/version"
)

// arches are the guest architectures the provisioner supports.
var arches = []string{"amd64", "arm64"}

// buildTimeout bounds one architecture's build (a cold cross build takes about 30 s here).
const buildTimeout = 5 * time.Minute

func main() {
	out := flag.String("out", "helpers", "folder to write clearwater-firstboot_linux_<arch> into")
	pkg := flag.String("pkg", "./cmd/clearwater-firstboot", "the helper's package, relative to the module root")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *pkg); err != nil {
		fmt.Fprintln(os.Stderr, "buildhelpers:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, pkg string) error {
	outDir, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	ver := version.PluginVersion.String()
	for _, arch := range arches {
		dst := filepath.Join(outDir, "clearwater-firstboot_linux_"+arch)
		start := time.Now()
		if err := build(ctx, root, pkg, arch, ver, dst); err != nil {
			return fmt.Errorf("linux/%s: %w", arch, err)
		}
		fi, err := os.Stat(dst)
		if err != nil {
			return err
		}
		fmt.Printf("buildhelpers: %s (%d bytes, version %s) in %s\n", dst, fi.Size(), ver, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// moduleRoot is the folder of the go.mod that the current folder belongs to.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the plugin's source tree")
	}
	return filepath.Dir(mod), nil
}

// build cross-compiles the helper for linux/arch into dst.
func build(ctx context.Context, root, pkg, arch, ver, dst string) error {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp")
	defer os.Remove(tmp)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-tags", metadata.BuildTags,
		"-ldflags", "-s -w -X main.version="+ver, "-o", tmp, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("go build took longer than %s", buildTimeout)
		}
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, stderr.Bytes())
	}
	return os.Rename(tmp, dst)
}
