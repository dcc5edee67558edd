// Command buildhelpers builds the clearwater-firstboot helper for every guest architecture that
// the provisioner embeds. `go generate ./provisioner/firstboot` runs it:
//
//	go run ./internal/buildhelpers -out helpers -version=$CLEARWATER_VERSION
//
// The helpers say the plugin's version: version/version.go's (x.y.z-dev) for a
// development build, or -version, which a release sets to its own (from the tag)
// so that the helper baked into an image and the plugin's `describe` agree.
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

	goversion "github.com/hashicorp/go-version"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/buildtags"
	"github.com/clearwater-aio/packer-plugin-clearwater/version"
)

// arches are the guest architectures the provisioner supports.
var arches = []string{"amd64", "arm64"}

// buildTimeout bounds one architecture's build (a cold cross build takes about 30 s here).
const buildTimeout = 5 * time.Minute

func main() {
	out := flag.String("out", "helpers", "folder to write clearwater-firstboot_linux_<arch> into")
	pkg := flag.String("pkg", "./cmd/clearwater-firstboot", "the helper's package, relative to the module root")
	ver := flag.String("version", "", "the version the helpers report (a release's, without the v); empty: "+version.PluginVersion.String())
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *pkg, *ver); err != nil {
		fmt.Fprintln(os.Stderr, "buildhelpers:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, pkg, ver string) error {
	ver, err := helperVersion(ver)
	if err != nil {
		return err
	}
	outDir, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
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

// helperVersion is the version to stamp: ver when given (it must be a semantic
// version, as packer requires of a release), else the plugin's own.
func helperVersion(ver string) (string, error) {
	if ver == "" {
		return version.PluginVersion.String(), nil
	}
	if strings.HasPrefix(ver, "v") {
		return "", fmt.Errorf("-version %q (CLEARWATER_VERSION): give it without the leading v, as the plugin reports it: %s", ver, ver[1:])
	}
	if _, err := goversion.NewSemver(ver); err != nil {
		return "", fmt.Errorf("-version %q (CLEARWATER_VERSION) is not a semantic version such as 1.2.3: %w", ver, err)
	}
	return ver, nil
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
	// A temp file of its own: test packages run the generator at the same time, and each must
	// rename a whole helper over dst.
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-tags", buildtags.Helper,
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
