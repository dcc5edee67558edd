package chroot

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeELF returns an ELF header for machine.
func fakeELF(machine uint16, bigEndian bool) []byte {
	b := make([]byte, 64)
	copy(b, "\x7fELF")
	b[4], b[5] = 2, 1
	order := binary.ByteOrder(binary.LittleEndian)
	if bigEndian {
		b[5] = 2
		order = binary.BigEndian
	}
	order.PutUint16(b[18:], machine)
	return b
}

func TestElfMachine(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		want string
	}{
		{fakeELF(62, false), "x86_64"}, {fakeELF(183, false), "aarch64"}, {fakeELF(22, true), "s390x"},
		{fakeELF(21, true), "ppc64"}, {fakeELF(243, false), "riscv64"},
	} {
		if got, err := elfMachine(tc.b); err != nil || got != tc.want {
			t.Errorf("elfMachine = %q, %v; want %q", got, err, tc.want)
		}
	}
	for _, bad := range [][]byte{nil, []byte("#!/bin/sh\n echo not elf at all"), fakeELF(9999, false)} {
		if _, err := elfMachine(bad); err == nil {
			t.Errorf("elfMachine(%q) succeeded", bad)
		}
	}
}

// archRoot makes a root whose /bin/sh (through a usr-merge symlink) is an
// ELF header of machine.
func archRoot(t *testing.T, machine uint16) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/bin/dash"), fakeELF(machine, false), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("dash", filepath.Join(root, "usr/bin/sh")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestStepCheckArch(t *testing.T) {
	binfmt := t.TempDir()
	noBinfmt := t.TempDir()
	handler := "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n"
	qemu := "enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: %s\noffset 0\n"
	cases := []struct {
		name    string
		machine uint16
		entries map[string]string
		dir     string
		want    string
	}{
		{"same arch", 62, nil, noBinfmt, ""},
		{"no binfmt_misc", 183, nil, noBinfmt, "binfmt_misc is not mounted"},
		{"no handler", 183, map[string]string{"status": "enabled\n", "other": handler}, binfmt, "no qemu-aarch64 binfmt_misc handler"},
		{"handler with F", 183, map[string]string{"status": "enabled\n", "qemu-aarch64": strings.Replace(qemu, "%s", "OCF", 1)}, binfmt, ""},
		{"handler without F", 183, map[string]string{"status": "enabled\n", "qemu-aarch64": strings.Replace(qemu, "%s", "OC", 1)}, binfmt, "has no F flag"},
		{"disabled handler", 183, map[string]string{"status": "enabled\n", "qemu-aarch64": "disabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: F\n"}, binfmt, "no qemu-aarch64"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if tc.entries != nil {
				dir = t.TempDir()
				for name, content := range tc.entries {
					if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			state, _ := testState(t, &Config{}, &fakeDriver{})
			state.Put("communicator", &Communicator{Root: archRoot(t, tc.machine)})
			err := stateErrorAfter((&stepCheckArch{binfmtDir: dir, hostArch: "x86_64"}).Run(context.Background(), state), state)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "aarch64") {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestStepCheckArchNoShell(t *testing.T) {
	state, _ := testState(t, &Config{}, &fakeDriver{})
	state.Put("communicator", &Communicator{Root: t.TempDir()})
	err := stateErrorAfter((&stepCheckArch{binfmtDir: t.TempDir(), hostArch: "x86_64"}).Run(context.Background(), state), state)
	if err == nil || !strings.Contains(err.Error(), "/bin/sh") {
		t.Fatalf("error %v", err)
	}
}
