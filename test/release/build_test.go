package release

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
)

// buildTools are what the image needs here besides the builder's own host tools.
var buildTools = []string{"busybox", "mke2fs", "sfdisk", "chroot", "qemu-img", "losetup", "debugfs"}

// buildWithRelease builds the template in dir with the plugin that packer init installed, on a
// small busybox image, and checks that the helper baked into it reports version.
func buildWithRelease(t *testing.T, env *packertest.Env, dir, version string) {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range buildTools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		skipOrFail(t, "the build needs "+strings.Join(missing, ", "))
	}
	makeImage(t, filepath.Join(dir, "source.raw"))
	res := env.Build(t, dir, ".")
	if res.ExitCode != 0 {
		t.Fatalf("packer build exited %d:\n%s", res.ExitCode, res.Output)
	}
	// `clearwater-firstboot version` prints "clearwater-firstboot <version>".
	if want := "baked helper: clearwater-firstboot " + version + "\n"; !strings.Contains(res.Output, want) {
		t.Errorf("packer build output lacks %q:\n%s", want, res.Output)
	}
	if _, err := os.Stat(filepath.Join(dir, "output", "aio.raw")); err != nil {
		t.Errorf("no image: %v", err)
	}
}

// makeImage writes a raw GPT disk with one ext4 partition holding a static busybox root that
// looks like a systemd system, enough for the builder and the provisioner.
func makeImage(t *testing.T, img string) {
	t.Helper()
	root := t.TempDir()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"bin", "sbin", "etc", "tmp", "dev", "proc", "sys", "run", "usr/bin", "usr/sbin", "usr/local/sbin", "lib/systemd", "var/lib"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{"bin/busybox": string(data), "lib/systemd/systemd": "", "etc/os-release": "ID=test\n"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/lib/systemd/systemd", filepath.Join(root, "sbin", "init")); err != nil {
		t.Fatal(err)
	}
	command(t, time.Minute, root, nil, "chroot", root, "/bin/busybox", "--install", "-s", "/bin")

	const start, sectors = 2048, 65536 // 32 MiB from 1 MiB
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, (start+sectors+2048)*512); err != nil {
		t.Fatal(err)
	}
	sfdisk := exec.CommandContext(t.Context(), "sfdisk", "-q", img)
	sfdisk.Stdin = strings.NewReader(fmt.Sprintf("label: gpt\nstart=%d, size=%d, type=0FC63DAF-8483-4772-8E3D-693D7DE47709\n", start, sectors))
	if out, err := sfdisk.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	// mke2fs writes the filesystem into the partition in place (-E offset), blocks of 1 KiB.
	command(t, time.Minute, root, nil, "mke2fs", "-q", "-F", "-t", "ext4", "-d", root,
		"-E", fmt.Sprintf("offset=%d", start*512), img, fmt.Sprint(sectors/2))
}
