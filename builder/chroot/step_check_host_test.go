package chroot

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestStepCheckHost(t *testing.T) {
	loop := filepath.Join(t.TempDir(), "loop-control")
	missing := func(names ...string) func(string) (string, error) {
		return func(n string) (string, error) {
			for _, m := range names {
				if n == m {
					return "", errors.New("not found")
				}
			}
			return "/usr/bin/" + n, nil
		}
	}
	cases := []struct {
		name string
		step stepCheckHost
		grow bool
		want []string
	}{
		{"not linux", stepCheckHost{goos: "darwin", lookPath: missing()}, false, []string{"needs a Linux build host", "darwin"}},
		{"not root", stepCheckHost{goos: "linux", euid: 1000, loopControl: "/dev/null", lookPath: missing()}, false, []string{"must run as root", "sudo"}},
		{"no loop", stepCheckHost{goos: "linux", loopControl: loop, lookPath: missing()}, false, []string{"no loop devices", "modprobe loop"}},
		{"missing tools", stepCheckHost{goos: "linux", loopControl: "/dev/null", lookPath: missing("qemu-img", "resize2fs", "debugfs")}, false,
			[]string{"qemu-img, resize2fs, debugfs", "apt-get install qemu-utils e2fsprogs"}},
		{"growpart only with disk_size", stepCheckHost{goos: "linux", loopControl: "/dev/null", lookPath: missing("growpart")}, true,
			[]string{"growpart", "cloud-guest-utils"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{}
			if tc.grow {
				c.diskSizeBytes = 1 << 30
			}
			err := tc.step.check(c)
			if err == nil {
				t.Fatal("check passed")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	ok := stepCheckHost{goos: "linux", loopControl: "/dev/null", lookPath: missing("growpart")}
	if err := ok.check(&Config{}); err != nil {
		t.Errorf("growpart is not needed without disk_size: %v", err)
	}
}

func TestLookToolFindsSbin(t *testing.T) {
	t.Setenv("PATH", "/nonexistent")
	if _, err := lookTool("sh"); err != nil {
		t.Fatal(err)
	}
	if _, err := lookTool("no-such-tool-clearwater"); err == nil {
		t.Fatal("found a missing tool")
	}
}
