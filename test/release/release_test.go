package release

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/plugin"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
)

const (
	owner = "clearwater-aio"
	repo  = "packer-plugin-clearwater"
	// tag is the release the test cuts: not version/version.go's, so that a helper or a
	// plugin that kept the development version shows.
	tag = "v0.42.1"
)

// apiVersion is what `describe` reports as api_version, and what the asset names carry.
var apiVersion = "x" + plugin.APIVersionMajor + "." + plugin.APIVersionMinor

// TestReleaseInstallsWithPackerInit cuts a linux/amd64 release of a tagged clean copy of this tree
// with the pinned GoReleaser, checks its assets, serves them from a fake GitHub on loopback, and
// has the pinned packer install it with `packer init`, validate a template, and build an image
// whose baked helper reports the release's version.
func TestReleaseInstallsWithPackerInit(t *testing.T) {
	packer := packertest.PackerPath()
	if _, err := os.Stat(packer); err != nil {
		skipOrFail(t, fmt.Sprintf("%s is missing: build it with `make packer`", packer))
	}
	goreleaser := buildGoReleaser(t)
	src := cleanTaggedCopy(t)
	key := newSigningKey(t)
	dist := cutRelease(t, goreleaser, src, key)
	version := strings.TrimPrefix(tag, "v")
	stem := fmt.Sprintf("%s_v%s_%s_linux_amd64", repo, version, apiVersion)
	checkAssets(t, dist, stem, version)
	checkSignature(t, key, filepath.Join(dist, fmt.Sprintf("%s_v%s_SHA256SUMS", repo, version)))
	installAndBuild(t, packer, dist, stem, version)
}

// installAndBuild publishes the release in dist on a fake GitHub, installs it with packer init,
// validates the template and builds with it.
func installAndBuild(t *testing.T, packer, dist, stem, version string) {
	// Publish: the assets in the fake GitHub's folder for the tag.
	root := t.TempDir()
	tagDir := filepath.Join(root, owner, repo, tag)
	if err := os.MkdirAll(tagDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{stem + ".zip", fmt.Sprintf("%s_v%s_SHA256SUMS", repo, version)} {
		if err := os.Link(filepath.Join(dist, name), filepath.Join(tagDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	gh, err := StartFakeGitHub(root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer gh.Close()
	for k, v := range map[string]string{"HTTPS_PROXY": gh.URL, "https_proxy": gh.URL, "SSL_CERT_FILE": gh.CAFile,
		"NO_PROXY": "", "no_proxy": "", "PACKER_GITHUB_API_TOKEN": ""} {
		t.Setenv(k, v)
	}

	dir := t.TempDir()
	env := &packertest.Env{Packer: packer, PluginPath: filepath.Join(dir, "plugins"), ConfigDir: filepath.Join(dir, "config")}
	// The source image only has to exist to validate; the build makes the real one.
	for name, content := range map[string]string{"build.pkr.hcl": template, "source.raw": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, code := runPacker(t, env, dir, "init", ".")
	installed := filepath.Join(env.PluginPath, "github.com", owner, "clearwater", stem)
	if code != 0 || !strings.Contains(out, "Installed plugin github.com/"+owner+"/clearwater "+tag) {
		t.Fatalf("packer init exited %d:\n%s\nfake GitHub saw:\n%s", code, out, strings.Join(gh.Requests(), "\n"))
	}
	if _, err := os.Stat(installed); err != nil {
		t.Fatalf("packer init did not install %s: %v\n%s", installed, err, out)
	}
	wantRequests := []string{
		"GET api.github.com /repos/" + owner + "/" + repo + "/git/matching-refs/tags 200",
		"GET github.com /" + owner + "/" + repo + "/releases/download/" + tag + "/" + repo + "_v" + version + "_SHA256SUMS 200",
		"GET github.com /" + owner + "/" + repo + "/releases/download/" + tag + "/" + stem + ".zip 200",
	}
	if got := gh.Requests(); !slices.Equal(got, wantRequests) {
		t.Errorf("fake GitHub saw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRequests, "\n"))
	}
	if res := env.Validate(t, dir, "."); res.ExitCode != 0 {
		t.Fatalf("packer validate exited %d:\n%s", res.ExitCode, res.Output)
	}

	t.Run("build", func(t *testing.T) { buildWithRelease(t, env, dir, version) })
}

// template installs the plugin from GitHub and builds with its builder and provisioner; the
// shell provisioner runs the helper the provisioner baked, inside the image.
const template = `
packer {
  required_plugins {
    clearwater = {
      version = ">= 0.1.0"
      source  = "github.com/clearwater-aio/clearwater"
    }
  }
}

source "clearwater-chroot" "aio" {
  source_image     = "source.raw"
  format           = "raw"
  output_directory = "output"
}

build {
  sources = ["source.clearwater-chroot.aio"]

  provisioner "clearwater-firstboot" {}

  provisioner "shell" {
    inline = ["echo \"baked helper: $(/usr/local/sbin/clearwater-firstboot version)\""]
  }
}
`

func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true: " + msg)
	}
	t.Skip(msg)
}

// goTool is the go command of the toolchain running the test.
func goTool() string { return filepath.Join(runtime.GOROOT(), "bin", "go") }

// command runs name in dir with the go toolchain on PATH, and fails the test on error.
func command(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(goTool())+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v after %s\n%s", name, strings.Join(args, " "), err, time.Since(start).Round(time.Second), out)
	}
	return string(out)
}

// buildGoReleaser builds the pinned GoReleaser into bin/ unless it is there and current.
func buildGoReleaser(t *testing.T) string {
	t.Helper()
	start := time.Now()
	command(t, 20*time.Minute, packertest.RepoRoot(), nil, "make", "--no-print-directory", "goreleaser")
	t.Logf("make goreleaser: %s", time.Since(start).Round(time.Millisecond))
	return filepath.Join(packertest.RepoRoot(), "bin", "goreleaser")
}

// cleanTaggedCopy copies this tree's files (tracked, and new ones not ignored: the work under
// test) into a fresh git repository named like the project, commits them and tags the commit:
// what a clean clone of the tag has.
func cleanTaggedCopy(t *testing.T) string {
	t.Helper()
	root := packertest.RepoRoot()
	files := command(t, time.Minute, root, nil, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	src := filepath.Join(t.TempDir(), repo)
	for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		fi, err := os.Lstat(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := copyFile(filepath.Join(root, f), filepath.Join(src, f), fi); err != nil {
			t.Fatal(err)
		}
	}
	git := []string{"-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}
	command(t, time.Minute, src, nil, "git", append(git, "init", "-q")...)
	command(t, time.Minute, src, nil, "git", append(git, "add", "-A")...)
	command(t, time.Minute, src, nil, "git", append(git, "commit", "-q", "-m", "release under test")...)
	command(t, time.Minute, src, nil, "git", append(git, "tag", tag)...)
	// GoReleaser insists on a remote, as a clone has; it never contacts it with --skip=publish.
	command(t, time.Minute, src, nil, "git", "remote", "add", "origin", "https://github.com/"+owner+"/"+repo+".git")
	return src
}

func copyFile(src, dst string, fi os.FileInfo) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, fi.Mode().Perm())
}

// cutRelease runs `goreleaser release --clean --skip=publish` in src for linux/amd64, signing
// with key as the release workflow signs with the project's, and returns dist/.
func cutRelease(t *testing.T, goreleaser, src string, key signingKey) string {
	t.Helper()
	start := time.Now()
	out := command(t, 15*time.Minute, src, append(key.env(), "API_VERSION="+apiVersion, "CLEARWATER_HOST_ONLY=1", "GITHUB_TOKEN="),
		goreleaser, "release", "--clean", "--skip=publish")
	t.Logf("goreleaser release (linux/amd64, make generate included): %s", time.Since(start).Round(time.Millisecond))
	if testing.Verbose() {
		t.Log(out)
	}
	return filepath.Join(src, "dist")
}

// checkAssets checks the names packer init relies on: the zip holds one binary of its stem that
// describes itself as the release, and SHA256SUMS lists the zip's digest.
func checkAssets(t *testing.T, dist, stem, version string) {
	t.Helper()
	zipPath := filepath.Join(dist, stem+".zip")
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != stem {
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		t.Fatalf("%s holds %v, want exactly [%s]", zipPath, names, stem)
	}
	data, err := os.ReadFile(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	sums, err := os.ReadFile(filepath.Join(dist, fmt.Sprintf("%s_v%s_SHA256SUMS", repo, version)))
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(sum[:]) + "  " + stem + ".zip\n"; string(sums) != want {
		t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", sums, want)
	}
	bin := filepath.Join(t.TempDir(), stem)
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, buf.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	describe := command(t, time.Minute, filepath.Dir(bin), nil, bin, "describe")
	if want := `"version":"` + version + `"`; !strings.Contains(describe, want) || !strings.Contains(describe, `"api_version":"`+apiVersion+`"`) {
		t.Errorf("describe = %s, want %s and api_version %s", describe, want, apiVersion)
	}
}

// runPacker runs packer with args in dir and returns its output and exit code.
func runPacker(t *testing.T, env *packertest.Env, dir string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := env.Command(ctx, dir, args...)
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil {
		t.Fatalf("packer %v: %v", args, err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}
