package seedfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// fakeRoot lays out a root directory for FindByLabel: files maps paths under root to the image
// files to copy there, links maps paths to symbolic link targets.
func fakeRoot(t *testing.T, files, links map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for dst, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, dst)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for dst, target := range links {
		p := filepath.Join(root, dst)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFindByLabel(t *testing.T) {
	iso := makeISO(t, "xorriso", map[string]string{"openstack/latest/user_data": "cd\n"}, "-V", "config-2", "-J", "-r")
	fat := makeFAT(t, "2048", nocloudFiles, "-n", "CIDATA")
	other := makeFAT(t, "2048", nocloudFiles, "-n", "OTHER")
	garbage := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(garbage, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	sysBlock := map[string]string{"sys/class/block/sda/dev": garbage, "sys/class/block/sr0/dev": garbage,
		"sys/class/block/vdb/dev": garbage, "sys/class/block/loop0/dev": garbage}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	cases := []struct {
		name         string
		files, links map[string]string
		labels       []string
		want         string // relative to root; "" for fs.ErrNotExist
	}{
		{"by-label regular file", map[string]string{"dev/disk/by-label/CIDATA": fat}, nil,
			[]string{"cidata"}, "dev/disk/by-label/CIDATA"},
		{"by-label relative link", map[string]string{"dev/sr0": iso},
			map[string]string{"dev/disk/by-label/config-2": "../../sr0"},
			[]string{"CONFIG-2"}, "dev/sr0"},
		{"by-label absolute link kept under root", map[string]string{"dev/sr0": iso},
			map[string]string{"dev/disk/by-label/CONFIG-2": "/dev/sr0"},
			[]string{"config-2"}, "dev/sr0"},
		{"by-label link climbing out of the root stays in it", nil,
			map[string]string{"dev/disk/by-label/cidata": "../../../../../../../../../../../.." + fat},
			[]string{"cidata"}, ""},
		{"by-label absolute link to a host path stays in the root", nil,
			map[string]string{"dev/disk/by-label/cidata": fat},
			[]string{"cidata"}, ""},
		{"by-label stale link", map[string]string{"dev/vda": other},
			map[string]string{"dev/disk/by-label/cidata": "../../vda", "dev/disk/by-label/gone": "../../nope"},
			[]string{"cidata", "gone"}, ""},
		{"sys/class/block", with(sysBlock, "dev/sda", garbage, "dev/vdb", fat, "dev/loop0", other), nil,
			[]string{"config-2", "cidata"}, "dev/vdb"},
		{"sys/class/block earlier label wins", with(sysBlock, "dev/sda", fat, "dev/sr0", iso), nil,
			[]string{"config-2", "cidata"}, "dev/sr0"},
		{"by-label before sys/class/block", with(sysBlock, "dev/sda", fat, "dev/disk/by-label/cidata", fat), nil,
			[]string{"cidata"}, "dev/disk/by-label/cidata"},
		{"sys/class/block device linked to a host path stays in the root",
			with(sysBlock, "dev/sda", garbage), map[string]string{"dev/sr0": fat},
			[]string{"cidata"}, ""},
		{"sys/class/block device linked inside the root", with(sysBlock, "dev/sda", garbage, "dev/vdb", fat),
			map[string]string{"dev/sr0": "/dev/vdb"}, []string{"cidata"}, "dev/vdb"},
		{"nothing", with(sysBlock, "dev/sda", garbage, "dev/vdb", other), nil,
			[]string{"config-2", "cidata"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeRoot(t, tc.files, tc.links)
			got, err := FindByLabel(root, tc.labels...)
			if tc.want == "" {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("FindByLabel = %q, %v; want fs.ErrNotExist", got, err)
				}
				return
			}
			if want := filepath.Join(root, tc.want); err != nil || got != want {
				t.Fatalf("FindByLabel = %q, %v; want %q", got, err, want)
			}
			fsys := openImage(t, got)
			if len(fsys.root.children) == 0 {
				t.Errorf("%s opened empty", got)
			}
		})
	}
}

func TestUnescapeUdev(t *testing.T) {
	for in, want := range map[string]string{`my\x20seed`: "my seed", `cidata`: "cidata", `a\x2`: `a\x2`,
		`\xzz`: `\xzz`, `\x41\x42`: "AB"} {
		if got := unescapeUdev(in); got != want {
			t.Errorf("unescapeUdev(%q) = %q, want %q", in, got, want)
		}
	}
}
