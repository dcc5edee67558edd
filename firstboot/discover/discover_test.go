package discover

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
)

// needTool skips when a tool is missing, except in CI, where every tool is installed.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is needed: %v", name, err)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// isoImage makes a real ISO 9660 image (Rock Ridge and Joliet) labelled label, holding files.
func isoImage(t *testing.T, label string, files map[string]string) string {
	tool := needTool(t, "genisoimage")
	src := t.TempDir()
	writeFiles(t, src, files)
	img := filepath.Join(t.TempDir(), "seed.iso")
	run(t, tool, "-quiet", "-o", img, "-V", label, "-J", "-r", src)
	return img
}

// vfatImage makes a real FAT image labelled label, holding files.
func vfatImage(t *testing.T, label string, files map[string]string) string {
	mkfs := needTool(t, "mkfs.vfat")
	needTool(t, "mcopy")
	img := filepath.Join(t.TempDir(), "seed.img")
	run(t, mkfs, "-C", "-n", label, img, "2048")
	src := t.TempDir()
	writeFiles(t, src, files)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		run(t, "mcopy", "-s", "-i", img, filepath.Join(src, e.Name()), "::/")
	}
	return img
}

// plug places a seed image where udev would link it: root/dev/disk/by-label/<name>.
func plug(t *testing.T, root, name, img string) string {
	t.Helper()
	dir := filepath.Join(root, "dev/disk/by-label")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if err := os.Rename(img, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

const (
	forceTrue  = "#cloud-config\nclearwater:\n  force_ipv6: true\n"
	forceFalse = "#cloud-config\nclearwater:\n  force_ipv6: false\n"
	markerCC   = "#cloud-config\nwrite_files:\n  - path: /etc/clearwater/force_ipv6\n    content: \"\"\n"
	cdUUID     = "8f1ad2d6-7f4e-4c1a-9d2b-3c2c6c1c0a11"
	cdMeta     = `{"uuid": "` + cdUUID + `", "name": "cw-aio-1"}`
)

func TestDiscover(t *testing.T) {
	type want struct {
		kind  string
		path  string // suffix of Found.Path
		data  string
		found bool
		notes []string
	}
	copyAt := func(id string) map[string]string {
		return map[string]string{
			"var/lib/cloud/instance/user-data.txt": forceFalse,
			"var/lib/cloud/data/instance-id":       id + "\n",
		}
	}
	cases := []struct {
		name  string
		flag  string // relative to the test's folder; "" for none
		files map[string]string
		seeds func(t *testing.T, root string)
		want  want
	}{
		{name: "flag", flag: "ud.yaml", files: map[string]string{"../ud.yaml": forceTrue},
			want: want{kind: KindFlag, path: "ud.yaml", data: forceTrue, found: true}},
		{name: "flag missing: no fallback", flag: "nope.yaml", files: map[string]string{"var/lib/cloud/seed/nocloud/user-data": forceTrue},
			want: want{kind: KindFlag, path: "nope.yaml", notes: []string{"no other source tried", "file does not exist"}}},
		{name: "config drive ISO",
			seeds: func(t *testing.T, root string) {
				plug(t, root, "config-2", isoImage(t, "config-2", map[string]string{configDriveUserData: forceTrue, configDriveMetaData: cdMeta}))
			},
			want: want{kind: KindConfigDrive, path: "by-label/config-2:openstack/latest/user_data", data: forceTrue, found: true}},
		{name: "config drive vfat, upper-case label", files: map[string]string{"var/lib/cloud/seed/nocloud/user-data": forceFalse},
			seeds: func(t *testing.T, root string) {
				plug(t, root, "CONFIG-2", vfatImage(t, "CONFIG-2", map[string]string{configDriveUserData: forceTrue, configDriveMetaData: cdMeta}))
			},
			want: want{kind: KindConfigDrive, path: "by-label/CONFIG-2:openstack/latest/user_data", data: forceTrue, found: true}},
		{name: "NoCloud ISO",
			seeds: func(t *testing.T, root string) {
				plug(t, root, "cidata", isoImage(t, "cidata", map[string]string{"user-data": markerCC, "meta-data": "instance-id: iid-local01\n"}))
			},
			want: want{kind: KindNoCloud, path: "by-label/cidata:user-data", data: markerCC, found: true, notes: []string{"config-drive: no filesystem labelled config-2"}}},
		{name: "NoCloud vfat CIDATA",
			seeds: func(t *testing.T, root string) {
				plug(t, root, "CIDATA", vfatImage(t, "CIDATA", map[string]string{"user-data": markerCC, "meta-data": "instance-id: iid-local01\n"}))
			},
			want: want{kind: KindNoCloud, path: "by-label/CIDATA:user-data", data: markerCC, found: true}},
		{name: "config drive without user_data, then NoCloud",
			seeds: func(t *testing.T, root string) {
				plug(t, root, "config-2", isoImage(t, "config-2", map[string]string{configDriveMetaData: cdMeta}))
				plug(t, root, "cidata", isoImage(t, "cidata", map[string]string{"user-data": forceFalse, "meta-data": "instance-id: x\n"}))
			},
			want: want{kind: KindNoCloud, path: "cidata:user-data", data: forceFalse, found: true, notes: []string{"has no readable openstack/latest/user_data"}}},
		{name: "seed dir nocloud", files: map[string]string{"var/lib/cloud/seed/nocloud/user-data": forceTrue},
			want: want{kind: KindNoCloud, path: "/var/lib/cloud/seed/nocloud/user-data", data: forceTrue, found: true}},
		{name: "seed dir nocloud-net", files: map[string]string{"var/lib/cloud/seed/nocloud-net/user-data": forceTrue},
			want: want{kind: KindNoCloud, path: "/var/lib/cloud/seed/nocloud-net/user-data", data: forceTrue, found: true, notes: []string{"no seed"}}},
		{name: "copy, current by instance-data.json",
			files: merge(copyAt("i-1"), map[string]string{"run/cloud-init/instance-data.json": `{"v1": {"instance_id": "i-1"}}`}),
			want:  want{kind: KindCloudInit, path: cloudInitCopyPath, data: forceFalse, found: true, notes: []string{"instance i-1 is current"}}},
		{name: "copy, current by config drive uuid (upper case)",
			files: copyAt(strings.ToUpper(cdUUID)),
			seeds: func(t *testing.T, root string) {
				plug(t, root, "config-2", isoImage(t, "config-2", map[string]string{configDriveMetaData: cdMeta}))
			},
			want: want{kind: KindCloudInit, path: cloudInitCopyPath, data: forceFalse, found: true}},
		{name: "copy, current by seed dir meta-data",
			files: merge(copyAt("iid-7"), map[string]string{"var/lib/cloud/seed/nocloud/meta-data": "instance-id: iid-7\n"}),
			want:  want{kind: KindCloudInit, path: cloudInitCopyPath, data: forceFalse, found: true}},
		{name: "copy, current by DMI uuid",
			files: merge(copyAt(cdUUID), map[string]string{"sys/class/dmi/id/product_uuid": strings.ToUpper(cdUUID) + "\n"}),
			want:  want{kind: KindCloudInit, path: cloudInitCopyPath, data: forceFalse, found: true}},
		{name: "copy of another instance",
			files: merge(copyAt("i-old"), map[string]string{"run/cloud-init/instance-data.json": `{"v1": {"instance_id": "i-new"}}`}),
			want:  want{notes: []string{"belongs to instance i-old", "the current one is i-new"}}},
		{name: "copy, current id unknown", files: copyAt("i-1"),
			want: want{notes: []string{"the current instance id is unknown"}}},
		{name: "copy, its instance unknown", files: map[string]string{"var/lib/cloud/instance/user-data.txt": forceTrue},
			want: want{notes: []string{"the instance it belongs to is unknown"}}},
		{name: "copy via instance link",
			files: map[string]string{"var/lib/cloud/instances/i-9/user-data.txt": forceTrue, "run/cloud-init/instance-data.json": `{"v1": {"instance-id": "i-9"}}`},
			seeds: func(t *testing.T, root string) {
				if err := os.Symlink("/var/lib/cloud/instances/i-9", filepath.Join(root, "var/lib/cloud/instance")); err != nil {
					t.Fatal(err)
				}
			},
			want: want{kind: KindCloudInit, path: "/var/lib/cloud/instances/i-9/user-data.txt", data: forceTrue, found: true}},
		// The copy's own absolute link is taken in the root too: the host's file of that name (here
		// forcing IPv6) is never read.
		{name: "copy, absolute link inside the root",
			files: map[string]string{"var/lib/cloud/instances/i-9/real.txt": forceFalse, "run/cloud-init/instance-data.json": `{"v1": {"instance-id": "i-9"}}`},
			seeds: func(t *testing.T, root string) {
				host := filepath.Join(t.TempDir(), "real.txt")
				if err := os.WriteFile(host, []byte(forceTrue), 0o644); err != nil {
					t.Fatal(err)
				}
				inRoot := filepath.Join(root, host)
				if err := os.MkdirAll(filepath.Dir(inRoot), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("/var/lib/cloud/instances/i-9/real.txt", inRoot); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("/var/lib/cloud/instances/i-9", filepath.Join(root, "var/lib/cloud/instance")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(host, filepath.Join(root, "var/lib/cloud/instances/i-9/user-data.txt")); err != nil {
					t.Fatal(err)
				}
			},
			want: want{kind: KindCloudInit, path: "/var/lib/cloud/instances/i-9/real.txt", data: forceFalse, found: true}},
		{name: "bad meta-data", files: merge(copyAt("i-1"), map[string]string{"var/lib/cloud/seed/nocloud/meta-data": "[\n"}),
			want: want{notes: []string{"gives no instance id: not YAML", "current instance id is unknown"}}},
		{name: "garbage labelled image",
			seeds: func(t *testing.T, root string) {
				img := filepath.Join(t.TempDir(), "junk")
				if err := os.WriteFile(img, []byte(strings.Repeat("junk", 10000)), 0o600); err != nil {
					t.Fatal(err)
				}
				plug(t, root, "cidata", img)
			},
			want: want{notes: []string{"nocloud: no filesystem labelled cidata", "no user-data found"}}},
		{name: "nothing", want: want{notes: []string{"config-drive: no filesystem", "nocloud: no seed", "cloud-init: no copy", "no user-data found"}}},
		{name: "seed too large", files: map[string]string{"var/lib/cloud/seed/nocloud/user-data": ""},
			seeds: func(t *testing.T, root string) {
				if err := os.Truncate(filepath.Join(root, "var/lib/cloud/seed/nocloud/user-data"), rootfs.MaxFileSize+1); err != nil {
					t.Fatal(err)
				}
			},
			want: want{notes: []string{"larger than 16 MiB"}}},
		{name: "seed is a FIFO",
			seeds: func(t *testing.T, root string) {
				dir := filepath.Join(root, "var/lib/cloud/seed/nocloud")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := syscall.Mkfifo(filepath.Join(dir, "user-data"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: want{notes: []string{"user-data not used: not a regular file"}}},
		{name: "flag is a FIFO", flag: "fifo", files: map[string]string{"var/lib/cloud/seed/nocloud/user-data": forceTrue},
			seeds: func(t *testing.T, root string) {
				if err := syscall.Mkfifo(filepath.Join(root, "../fifo"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: want{kind: KindFlag, path: "fifo", notes: []string{"not a regular file: no other source tried"}}},
		{name: "seed is a folder", files: map[string]string{"var/lib/cloud/seed/nocloud/user-data/x": ""},
			want: want{notes: []string{"not a regular file"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			top := t.TempDir()
			root := filepath.Join(top, "root")
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFiles(t, root, c.files)
			if c.seeds != nil {
				c.seeds(t, root)
			}
			flag := ""
			if c.flag != "" {
				flag = filepath.Join(top, c.flag)
			}
			src, found, notes := UserData(root, flag)
			all := strings.Join(notes, "\n")
			if found != c.want.found || src.Kind != c.want.kind || !strings.HasSuffix(src.Path, c.want.path) || string(src.Data) != c.want.data {
				t.Errorf("UserData = %+v, %v; want %+v\nnotes:\n%s", src, found, c.want, all)
			}
			for _, n := range c.want.notes {
				if !strings.Contains(all, n) {
					t.Errorf("no note contains %q; notes:\n%s", n, all)
				}
			}
			if len(notes) == 0 {
				t.Error("no notes")
			}
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestDiscoverThenParse runs the whole path on a real config drive: find, read, parse.
func TestDiscoverThenParse(t *testing.T) {
	root := t.TempDir()
	ud, err := os.ReadFile("../userdata/testdata/make-mime-marker.txt")
	if err != nil {
		t.Fatal(err)
	}
	plug(t, root, "config-2", isoImage(t, "config-2", map[string]string{configDriveUserData: string(ud), configDriveMetaData: cdMeta}))
	src, found, notes := UserData(root, "")
	if !found {
		t.Fatalf("not found: %q", notes)
	}
	r := userdata.Parse(src.Data)
	if !r.Marker || len(r.DropIns) != 1 || r.DropIns[0].Name != "/etc/clearwater/firstboot.d/50-user-data.yaml" {
		t.Errorf("Parse = marker %v, drop-ins %v; notes %q", r.Marker, r.DropIns, r.Notes)
	}
}
