package chroot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testRawConfig(t *testing.T) map[string]interface{} {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src.img")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string]interface{}{
		"source_image":      src,
		"packer_build_name": "aio",
		"output_directory":  filepath.Join(t.TempDir(), "out"),
	}
}

func TestPrepareDefaults(t *testing.T) {
	raw := testRawConfig(t)
	delete(raw, "output_directory")
	var b Builder
	if _, _, err := b.Prepare(raw); err != nil {
		t.Fatal(err)
	}
	c := b.config
	if c.Format != "qcow2" || c.ImageName != "aio.qcow2" || c.OutputDirectory != "output-aio" {
		t.Errorf("defaults: format %q image_name %q output_directory %q", c.Format, c.ImageName, c.OutputDirectory)
	}
	if len(c.ChrootMounts) != 4 || c.ChrootMounts[3][2] != "/dev/pts" {
		t.Errorf("chroot_mounts default = %v", c.ChrootMounts)
	}
	if len(c.CopyFiles) != 1 || c.CopyFiles[0] != "/etc/resolv.conf" {
		t.Errorf("copy_files default = %v", c.CopyFiles)
	}
	// Prepare is idempotent.
	if _, _, err := b.Prepare(raw); err != nil {
		t.Fatal(err)
	}
}

// TestPrepareOffLinux: the plugin ships for every OS, and the builder says at
// validate time that it needs Linux, whatever the config.
func TestPrepareOffLinux(t *testing.T) {
	for _, goos := range []string{"darwin", "windows", "freebsd"} {
		b := Builder{goos: goos}
		_, _, err := b.Prepare(testRawConfig(t))
		if err == nil || !strings.Contains(err.Error(), "clearwater-chroot needs a Linux build host") || !strings.Contains(err.Error(), goos) {
			t.Errorf("%s: Prepare = %v, want the Linux build host error naming %s", goos, err, goos)
		}
	}
	b := Builder{goos: "linux"}
	if _, _, err := b.Prepare(testRawConfig(t)); err != nil {
		t.Errorf("linux: Prepare = %v", err)
	}
}

func TestPrepareErrorsNameTheField(t *testing.T) {
	existing := t.TempDir()
	cases := []struct {
		name string
		set  map[string]interface{}
		want []string
	}{
		{"no source", map[string]interface{}{"source_image": ""}, []string{"source_image: required"}},
		{"missing source", map[string]interface{}{"source_image": "/nonexistent/x.qcow2"}, []string{"source_image:", "no such file"}},
		{"source is dir", map[string]interface{}{"source_image": existing}, []string{"source_image:", "not a regular file"}},
		{"url without checksum", map[string]interface{}{"source_image": "https://example.invalid/a.qcow2"}, []string{"source_image_checksum: required"}},
		{"bad format", map[string]interface{}{"format": "vmdk"}, []string{`format: "vmdk"`, "qcow2"}},
		{"compress raw", map[string]interface{}{"format": "raw", "compression": "zlib"}, []string{"compression: only qcow2", `compression = "none"`}},
		{"bad compression", map[string]interface{}{"compression": "lz4"}, []string{`compression: "lz4" is not supported`, `"zlib"`, `"zstd"`, `"none"`, "QEMU 5.1"}},
		{"bad size", map[string]interface{}{"disk_size": "8Q"}, []string{"disk_size:", `"8Q"`}},
		{"negative size", map[string]interface{}{"disk_size": "-1G"}, []string{"disk_size:"}},
		{"negative partition", map[string]interface{}{"root_partition": -1}, []string{"root_partition:"}},
		{"relative mount", map[string]interface{}{"mount_path": "mnt"}, []string{"mount_path:", "absolute"}},
		{"bad chroot mount", map[string]interface{}{"chroot_mounts": [][]string{{"proc", "/proc"}}}, []string{"chroot_mounts[0]:"}},
		{"relative copy file", map[string]interface{}{"copy_files": []string{"etc/hosts"}}, []string{"copy_files[0]:"}},
		{"image name with slash", map[string]interface{}{"image_name": "a/b"}, []string{"image_name:"}},
		{"output exists", map[string]interface{}{"output_directory": existing}, []string{"output_directory:", "-force"}},
		{"two errors", map[string]interface{}{"format": "vmdk", "disk_size": "x"}, []string{"format:", "disk_size:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := testRawConfig(t)
			for k, v := range tc.set {
				raw[k] = v
			}
			var b Builder
			_, _, err := b.Prepare(raw)
			if err == nil {
				t.Fatal("Prepare succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestPrepareForceAllowsExistingOutput(t *testing.T) {
	raw := testRawConfig(t)
	raw["output_directory"] = t.TempDir()
	raw["packer_force"] = true
	var b Builder
	if _, _, err := b.Prepare(raw); err != nil {
		t.Fatal(err)
	}
}

func TestPrepareURLWithChecksum(t *testing.T) {
	raw := testRawConfig(t)
	raw["source_image"] = "https://example.invalid/a.qcow2"
	raw["source_image_checksum"] = "sha256:00"
	var b Builder
	if _, _, err := b.Prepare(raw); err != nil {
		t.Fatal(err)
	}
}

func TestParseSize(t *testing.T) {
	cases := map[string]int64{"1024": 1024, "8G": 8 << 30, "512M": 512 << 20, "10GiB": 10 << 30, "2T": 2 << 40, "4k": 4096, "1GB": 1 << 30}
	for in, want := range cases {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "0", "-5M", "1.5G", "9999999999T"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
}

func TestIsURL(t *testing.T) {
	for in, want := range map[string]bool{"https://a/b": true, "file:///x": true, "/srv/a.qcow2": false, "a.qcow2": false, "./x://y": false} {
		if got := isURL(in); got != want {
			t.Errorf("isURL(%q) = %v", in, got)
		}
	}
}
