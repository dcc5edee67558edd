package platform

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// root lays out files (path under root -> content) in a fresh folder.
func root(t *testing.T, files map[string]string) string {
	t.Helper()
	r := t.TempDir()
	for name, body := range files {
		p := filepath.Join(r, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// configDriveISO makes an iso9660 config drive as Nova does (genisoimage -V config-2), without
// user_data, and returns its bytes.
func configDriveISO(t *testing.T) string {
	t.Helper()
	tool, err := exec.LookPath("genisoimage")
	if err != nil {
		t.Skip("genisoimage not installed (make deps)")
	}
	src := root(t, map[string]string{"openstack/latest/meta_data.json": `{"uuid":"u"}`,
		"openstack/latest/network_data.json": "{}"})
	out := filepath.Join(t.TempDir(), "cd.iso")
	if b, err := exec.Command(tool, "-o", out, "-ldots", "-allow-lowercase", "-allow-multidot", "-l",
		"-quiet", "-J", "-r", "-V", "config-2", src).CombinedOutput(); err != nil {
		t.Fatalf("genisoimage: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDetect(t *testing.T) {
	nova := map[string]string{"sys/class/dmi/id/sys_vendor": "OpenStack Foundation\n",
		"sys/class/dmi/id/product_name": "OpenStack Nova\n"}
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
	kvm := map[string]string{"sys/class/dmi/id/sys_vendor": "QEMU\n", "sys/class/dmi/id/product_name": "Standard PC (i440FX + PIIX, 1996)\n"}
	cases := []struct {
		name  string
		files map[string]string
		want  bool
		why   string
	}{
		{"nova smbios", nova, true, `sys_vendor is "OpenStack Foundation"`},
		{"product name only", map[string]string{"sys/class/dmi/id/product_name": "OpenStack Compute\n"}, true, "product_name"},
		{"asset tag", with(kvm, "sys/class/dmi/id/chassis_asset_tag", "OpenTelekomCloud\n"), true, "chassis_asset_tag"},
		{"plain kvm", kvm, false, "SMBIOS does not say OpenStack"},
		{"container on nova", with(kvm, "proc/1/environ", "HOME=/\x00product_name=OpenStack Nova\x00"), true, "PID 1"},
		{"ds=openstack on kvm", with(kvm, "proc/cmdline", "root=/dev/vda1 ds=openstack quiet\n"), true, "ds=openstack"},
		{"ds=nocloud on nova", with(nova, "proc/cmdline", "ro ds=nocloud;s=http://10.0.0.1/ quiet\n"), false, "ds=nocloud"},
		{"ci.ds", with(kvm, "proc/cmdline", "ci.ds=OpenStack\n"), true, "ci.ds=OpenStack"},
		{"cloud-init chose openstack", with(kvm, "run/cloud-init/cloud.cfg", "datasource_list: [ OpenStack, None ]\n"), true, "cloud-init chose"},
		{"cloud-init chose nocloud", with(nova, "run/cloud-init/cloud.cfg", "datasource_list: [ NoCloud, None ]\n"), false, "NoCloud"},
		{"config drive", with(nova, "dev/disk/by-label/config-2", configDriveISO(t)), false, "config drive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Detect(root(t, c.files))
			if v.Metadata != c.want || !strings.Contains(v.Why, c.why) {
				t.Errorf("Detect = %+v; want %t with a reason naming %q", v, c.want, c.why)
			}
		})
	}
	t.Run("nothing", func(t *testing.T) {
		v := Detect(t.TempDir())
		want := runtime.GOARCH != "amd64" && runtime.GOARCH != "386"
		if v.Metadata != want || v.Why == "" {
			t.Errorf("Detect on an empty root = %+v; want %t", v, want)
		}
	})
}

// Symlinks resolve as in a chroot into the root: sysfs's relative class links work, and an
// absolute link reads the root's file, never the host's.
func TestDetectResolvesLinksInTheRoot(t *testing.T) {
	host := filepath.Join(t.TempDir(), "sys_vendor")
	if err := os.WriteFile(host, []byte("OpenStack Foundation\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := root(t, map[string]string{"sys/devices/virtual/dmi/id/product_name": "Standard PC (i440FX + PIIX, 1996)\n",
		host[1:]: "QEMU\n"})
	for link, target := range map[string]string{"sys/class/dmi": "../devices/virtual/dmi",
		"sys/devices/virtual/dmi/id/sys_vendor": host} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(r, link)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(r, link)); err != nil {
			t.Fatal(err)
		}
	}
	if v := Detect(r); v.Metadata || !strings.Contains(v.Why, "SMBIOS does not say OpenStack") {
		t.Errorf("Detect = %+v; want the root's own SMBIOS (QEMU), read through its links", v)
	}
}
