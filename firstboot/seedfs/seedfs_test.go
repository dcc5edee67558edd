package seedfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// need skips the test when a tool is missing, except under CI=true, where it fails.
func need(tb testing.TB, tools ...string) {
	tb.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				tb.Fatalf("%s is required under CI=true: %v", tool, err)
			}
			tb.Skipf("%s not installed", tool)
		}
	}
}

func run(tb testing.TB, dir, name string, args ...string) {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// writeTree writes files (slash paths relative to dir) and returns dir.
func writeTree(tb testing.TB, dir string, files map[string]string) string {
	tb.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// makeISO builds an ISO of files with tool ("genisoimage" or "xorriso") and mkisofs-style flags.
func makeISO(tb testing.TB, tool string, files map[string]string, flags ...string) string {
	tb.Helper()
	need(tb, tool)
	src := writeTree(tb, tb.TempDir(), files)
	out := filepath.Join(tb.TempDir(), "seed.iso")
	args := append([]string{"-quiet", "-output", out}, flags...)
	if tool == "xorriso" {
		args = append([]string{"-as", "mkisofs"}, args...)
	}
	run(tb, src, tool, append(args, ".")...)
	return out
}

// makeFAT builds a FAT image of sizeKiB with mkfs.vfat flags and copies files in with mtools.
func makeFAT(tb testing.TB, sizeKiB string, files map[string]string, flags ...string) string {
	tb.Helper()
	need(tb, "mkfs.vfat", "mcopy", "mmd")
	src := writeTree(tb, tb.TempDir(), files)
	img := filepath.Join(tb.TempDir(), "seed.img")
	run(tb, src, "mkfs.vfat", append(append(flags, "-C", img), sizeKiB)...)
	made := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		parts := strings.Split(name, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/")
			if !made[d] {
				made[d] = true
				run(tb, src, "mmd", "-i", img, "::/"+d)
			}
		}
		run(tb, src, "mcopy", "-i", img, filepath.FromSlash(name), "::/"+name)
	}
	return img
}

// checkFiles asserts fsys holds exactly the files of want, byte for byte, and passes fstest.
func checkFiles(t *testing.T, fsys *FS, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fsys.ReadFile(p)
		got[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s missing; have %v", name, slices.Sorted(maps.Keys(got)))
		} else if g != body {
			t.Errorf("%s = %q, want %q", name, g, body)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected file %s", name)
		}
	}
	if err := fstest.TestFS(fsys, slices.Sorted(maps.Keys(want))...); err != nil {
		t.Error(err)
	}
}

func openImage(t *testing.T, path string) *FS {
	t.Helper()
	fsys, err := OpenPath(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	return fsys
}

var (
	nocloudFiles = map[string]string{
		"user-data": "#cloud-config\nforce_ipv6: true\n",
		"meta-data": "instance-id: iid-seedfs\nlocal-hostname: aio\n",
	}
	configDriveFiles = map[string]string{
		"openstack/latest/user_data":      "#cloud-config\nforce_ipv6: false\n",
		"openstack/latest/meta_data.json": `{"uuid": "0c1e", "hostname": "aio"}`,
		"openstack/2012-08-10/user_data":  "#!/bin/sh\necho old\n",
		"ec2/latest/meta-data.json":       "{}",
		"a/b/c/d/e/f/g/h/i/j/deep-file":   "ten levels down\n",
		"Mixed Case Name.yaml":            "case: kept\n",
	}
)

// shallow returns files without those more than six directories deep, which an ISO without
// Rock Ridge cannot hold.
func shallow(files map[string]string) map[string]string {
	out := map[string]string{}
	for name, body := range files {
		if strings.Count(name, "/") <= 6 {
			out[name] = body
		}
	}
	return out
}

var longNames = map[string]string{
	strings.Repeat("long-name-", 25) + ".yaml":                "two hundred and five bytes\n",
	strings.Repeat("d", 200) + "/" + strings.Repeat("ü", 100): "unicode\n",
	"user-data": "#cloud-config\n",
}

func TestISO(t *testing.T) {
	cases := []struct {
		name, tool, label string
		files             map[string]string
		flags             []string
	}{
		{"genisoimage-joliet-rock", "genisoimage", "cidata", nocloudFiles,
			[]string{"-volid", "cidata", "-joliet", "-rock"}},
		{"xorriso-config-drive", "xorriso", "config-2", configDriveFiles,
			[]string{"-V", "config-2", "-J", "-r"}},
		{"genisoimage-config-drive-deep", "genisoimage", "CONFIG-2", configDriveFiles,
			[]string{"-V", "CONFIG-2", "-J", "-r"}},
		{"joliet-only", "genisoimage", "cidata", shallow(configDriveFiles), // deep dirs need RR
			[]string{"-V", "cidata", "-J"}},
		{"rock-ridge-only", "xorriso", "cidata", configDriveFiles,
			[]string{"-V", "cidata", "-r"}},
		// Names this long overflow the system use area into SUSP continuation (CE) areas.
		{"rock-ridge-long-names-xorriso", "xorriso", "cidata", longNames, []string{"-V", "cidata", "-J", "-r"}},
		{"rock-ridge-long-names-genisoimage", "genisoimage", "cidata", longNames, []string{"-V", "cidata", "-r"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := openImage(t, makeISO(t, tc.tool, tc.files, tc.flags...))
			if fsys.Type() != "iso9660" || fsys.Label() != tc.label {
				t.Errorf("type %q label %q, want iso9660 %q", fsys.Type(), fsys.Label(), tc.label)
			}
			checkFiles(t, fsys, tc.files)
		})
	}
}

// TestISOPlainNames reads an ISO without Rock Ridge or Joliet: names are the ISO 9660 ones, with
// the version and empty extension dropped.
func TestISOPlainNames(t *testing.T) {
	img := makeISO(t, "genisoimage", map[string]string{
		"user-data":        "plain user data\n",
		"README.TXT":       "readme\n",
		"openstack/latest": "not a dir here\n",
	}, "-V", "cidata")
	checkFiles(t, openImage(t, img), map[string]string{
		"USER_DAT":        "plain user data\n",
		"README.TXT":      "readme\n",
		"OPENSTAC/LATEST": "not a dir here\n",
	})
}

func TestFAT(t *testing.T) {
	files := map[string]string{
		"user-data":                          "#cloud-config\nforce_ipv6: true\n",
		"meta-data":                          "instance-id: iid-fat\n",
		"openstack/latest/user_data":         "#cloud-config\n",
		"openstack/latest/meta_data.json":    `{"uuid":"x"}`,
		"a rather long name with spaces.txt": strings.Repeat("long name body ", 500),
		"UPPER.TXT":                          "short upper\n",
		"lower.txt":                          "short lower\n",
		"ünïcödé-名前.yaml":                    "unicode: yes\n",
		"d1/d2/d3/d4/d5/d6/d7/d8/d9/deep":    "deep\n",
	}
	cases := []struct {
		name, size string
		flags      []string
	}{
		{"default", "2048", []string{"-n", "CIDATA"}},
		{"fat12", "2048", []string{"-F", "12", "-n", "cidata"}},
		{"fat16", "4096", []string{"-F", "16", "-s", "1", "-n", "CIDATA"}},
		{"fat32", "40000", []string{"-F", "32", "-n", "CIDATA"}},
		{"fat32-512-byte-clusters", "40000", []string{"-F", "32", "-s", "1", "-n", "config-2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := openImage(t, makeFAT(t, tc.size, files, tc.flags...))
			want := tc.flags[len(tc.flags)-1]
			if fsys.Type() != "vfat" || fsys.Label() != want {
				t.Errorf("type %q label %q, want vfat %q", fsys.Type(), fsys.Label(), want)
			}
			checkFiles(t, fsys, files)
		})
	}
}

// TestFATRootLabel checks that the root directory's volume-label entry wins over the boot sector.
func TestFATRootLabel(t *testing.T) {
	need(t, "fatlabel")
	img := makeFAT(t, "2048", nocloudFiles, "-n", "OLD")
	run(t, ".", "fatlabel", img, "CIDATA")
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[43:54], "NO NAME    ") // as if only the root entry carried it
	fsys, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if fsys.Label() != "CIDATA" {
		t.Errorf("label %q, want CIDATA from the root directory", fsys.Label())
	}
	checkFiles(t, fsys, nocloudFiles)
}

func TestReadFileLimit(t *testing.T) {
	big := strings.Repeat("x", MaxFileSize+1)
	img := makeISO(t, "xorriso", map[string]string{"user-data": big, "meta-data": "m"}, "-V", "cidata", "-J", "-r")
	fsys := openImage(t, img)
	if _, err := fsys.ReadFile("user-data"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadFile of a %d-byte file: err %v, want the size limit", len(big), err)
	}
	f, err := fsys.Open("user-data")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := io.Copy(io.Discard, f)
	if err != nil || n != int64(len(big)) {
		t.Fatalf("streamed %d bytes, err %v; want %d", n, err, len(big))
	}
}

func TestOpenErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":   nil,
		"zeros":   make([]byte, 64<<10),
		"text":    []byte("#cloud-config\n"),
		"cd001":   append(make([]byte, 16*2048+1), "CD001"...),
		"bootjmp": append([]byte{0xEB, 0x3C, 0x90}, make([]byte, 509)...),
	} {
		if _, err := Open(bytes.NewReader(b), int64(len(b))); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
	if _, err := OpenPath(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenPath(absent): %v", err)
	}
}

func TestPathErrors(t *testing.T) {
	fsys := openImage(t, makeISO(t, "genisoimage", nocloudFiles, "-V", "cidata", "-J", "-r"))
	for _, p := range []string{"/user-data", "user-data/", "../user-data", "USER-DATA", "nope"} {
		if _, err := fsys.ReadFile(p); err == nil {
			t.Errorf("ReadFile(%q) succeeded", p)
		}
	}
	if _, err := fsys.ReadFile("."); err == nil {
		t.Error("ReadFile(.) succeeded")
	}
	if _, err := fsys.ReadDir("user-data"); err == nil {
		t.Error("ReadDir(user-data) succeeded")
	}
}
