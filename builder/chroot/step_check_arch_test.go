package chroot

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeELF returns the header of a 64-bit ELF executable for machine.
func fakeELF(machine uint16, bigEndian bool) []byte {
	b := make([]byte, 64)
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 2, 1, 1 // ELFCLASS64, ELFDATA2LSB, EV_CURRENT
	order := binary.ByteOrder(binary.LittleEndian)
	if bigEndian {
		b[5] = 2
		order = binary.BigEndian
	}
	order.PutUint16(b[16:], 2) // ET_EXEC
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
	noBinfmt := t.TempDir()
	// What Debian 12's qemu-user-static registers for aarch64, and a
	// handler for another architecture with the same kind of interpreter.
	debian := "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: %s\noffset 0\n" +
		"magic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
	riscv := "enabled\ninterpreter /usr/libexec/qemu-binfmt/riscv64-binfmt-P\nflags: PF\noffset 0\n" +
		"magic 7f454c460201010000000000000000000200f300\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
	flags := func(f string) string { return strings.Replace(debian, "%s", f, 1) }
	cases := []struct {
		name    string
		machine uint16
		entries map[string]string
		dir     string
		want    string
	}{
		{"same arch", 62, nil, noBinfmt, ""},
		{"no binfmt_misc", 183, nil, noBinfmt, "binfmt_misc is not mounted"},
		{"binfmt_misc disabled", 183, map[string]string{"status": "disabled\n", "qemu-aarch64": flags("PF")}, "", "binfmt_misc is disabled"},
		{"no handler", 183, map[string]string{"status": "enabled\n", "qemu-riscv64": riscv}, "", "no binfmt_misc handler"},
		{"Debian's handler", 183, map[string]string{"status": "enabled\n", "qemu-riscv64": riscv, "qemu-aarch64": flags("PF")}, "", ""},
		{"any name", 183, map[string]string{"status": "enabled\n", "arm64-by-hand": flags("F")}, "", ""},
		{"handler without F", 183, map[string]string{"status": "enabled\n", "qemu-aarch64": flags("P")}, "", "has no F flag"},
		{"disabled handler", 183, map[string]string{"status": "enabled\n", "qemu-aarch64": "disabled" + strings.TrimPrefix(flags("F"), "enabled")}, "", "is disabled"},
		{"extension handler", 183, map[string]string{"status": "enabled\n", "qemu-aarch64": "enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: F\nextension .arm\n"}, "", "no binfmt_misc handler"},
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
