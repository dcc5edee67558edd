package qemu

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBetween(t *testing.T) {
	log := "boot\r\nnoise ==BEGIN==\r\nline 1\r\nline 2\r\n[ 1.0] kernel ==END==\r\nafter\n"
	for _, tc := range []struct {
		name, log, begin, end, want string
		ok                          bool
	}{
		{"both", log, "==BEGIN==", "==END==", "line 1\nline 2\n", true},
		{"no begin", log, "==NOPE==", "==END==", "", false},
		{"no end", log, "==BEGIN==", "==NOPE==", "", false},
		{"end before begin", "==END==\n==BEGIN==\nx\n", "==BEGIN==", "==END==", "", false},
		{"empty body", "==BEGIN==\n==END==\n", "==BEGIN==", "==END==", "", true},
		{"begin on last line", "==BEGIN==", "==BEGIN==", "==END==", "", false},
	} {
		got, ok := Between(tc.log, tc.begin, tc.end)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Between = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestOptionsCheck(t *testing.T) {
	img := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no image", Options{}, "Image is empty"},
		{"missing image", Options{Image: img + ".nope"}, "no such file"},
		{"negative memory", Options{Image: img, MemoryMiB: -1}, "negative"},
		{"bad MAC", Options{Image: img, Network: Network{MAC: "52:54:00"}}, "bad MAC"},
		{"bad tap", Options{Image: img, Network: Network{Tap: "tap0,script=/x"}}, "bad tap"},
		{"none and tap", Options{Image: img, Network: Network{None: true, Tap: "tap0"}}, "excludes"},
	} {
		_, err := Boot(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Boot error = %v; want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestRootOffset(t *testing.T) {
	mbr := func(entries ...[3]uint32) []byte { // type, start, size
		b := make([]byte, 4096)
		for i, e := range entries {
			p := b[446+16*i:]
			p[4] = byte(e[0])
			binary.LittleEndian.PutUint32(p[8:], e[1])
			binary.LittleEndian.PutUint32(p[12:], e[2])
		}
		b[510], b[511] = 0x55, 0xaa
		return b
	}
	gpt := mbr([3]uint32{0xee, 1, 100000})
	copy(gpt[512:], "EFI PART")
	binary.LittleEndian.PutUint64(gpt[512+72:], 2) // entries at LBA 2
	binary.LittleEndian.PutUint32(gpt[512+80:], 3)
	binary.LittleEndian.PutUint32(gpt[512+84:], 128)
	entry := func(i int, typ [16]byte, first, last uint64) {
		e := gpt[1024+128*i:]
		copy(e, typ[:])
		binary.LittleEndian.PutUint64(e[32:], first)
		binary.LittleEndian.PutUint64(e[40:], last)
	}
	entry(0, [16]byte{1}, 34, 2047) // not Linux (BIOS boot, say)
	entry(1, linuxFS, 2048, 4095)
	entry(2, linuxFS, 4096, 99999) // the largest Linux one
	for _, tc := range []struct {
		name string
		disk []byte
		want int64
		err  string
	}{
		{"bare filesystem", make([]byte, 4096), 0, ""},
		{"one partition", mbr([3]uint32{0x83, 2048, 1000}), 2048 * 512, ""},
		{"largest Linux", mbr([3]uint32{0x82, 63, 5000}, [3]uint32{0x83, 6000, 10}, [3]uint32{0x83, 7000, 900}), 7000 * 512, ""},
		{"no Linux", mbr([3]uint32{0x0c, 2048, 1000}), 0, "no Linux"},
		{"GPT", gpt, 4096 * 512, ""},
		{"GPT header missing", mbr([3]uint32{0xee, 1, 100}), 0, "without a GPT header"},
		{"short", make([]byte, 100), 0, "partition table"},
	} {
		got, err := rootOffset(bytes.NewReader(tc.disk))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v; want one containing %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: rootOffset = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
}

// TestDiskReadFile reads files from a partitioned ext4 image made here, raw and as qcow2.
func TestDiskReadFile(t *testing.T) {
	RequireTools(t, "mkfs.ext4", "sfdisk")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "etc/clearwater"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := []byte("local_ip=192.0.2.100\nwith \"quotes\" and $VARS\n")
	if err := os.WriteFile(filepath.Join(tree, "etc/clearwater/local_config"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "disk.raw")
	ctx := context.Background()
	mustRun(t, "truncate", "-s", "64M", raw)
	mustRunStdin(t, "start=2048, type=83\n", "sfdisk", "--quiet", "--label", "dos", raw)
	mustRun(t, "mkfs.ext4", "-q", "-F", "-E", "offset=1048576", "-d", tree, raw, "63M")
	qcow := filepath.Join(dir, "disk.qcow2")
	mustRun(t, "qemu-img", "convert", "-O", "qcow2", raw, qcow)

	for _, image := range []string{raw, qcow} {
		d, err := OpenDisk(ctx, image, dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.ReadFile(ctx, "/etc/clearwater/local_config")
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: ReadFile = %q, %v; want %q", filepath.Base(image), got, err, want)
		}
		if _, err := d.ReadFile(ctx, "/etc/clearwater/missing"); err == nil {
			t.Errorf("%s: ReadFile of a missing file: no error", filepath.Base(image))
		}
		if _, err := d.ReadFile(ctx, "relative"); err == nil {
			t.Errorf("%s: ReadFile of a relative path: no error", filepath.Base(image))
		}
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "qemu-disk-*")); len(entries) != 0 {
		t.Errorf("Close left %v behind", entries)
	}
}

// TestSeedISOs checks the ISOs with isoinfo (from genisoimage): labels and file contents.
func TestSeedISOs(t *testing.T) {
	RequireTools(t, "isoinfo")
	dir, ctx := t.TempDir(), context.Background()
	nocloud := filepath.Join(dir, "nocloud.iso")
	nc := &NoCloud{UserData: []byte("#cloud-config\nruncmd: [echo hi]\n"), NetworkConfig: []byte("version: 2\n")}
	if err := nc.WriteISO(ctx, nocloud); err != nil {
		t.Fatal(err)
	}
	drive := filepath.Join(dir, "config-drive.iso")
	cd := &ConfigDrive{UserData: []byte("#!/bin/sh\necho hi\n"), MetaData: map[string]any{"uuid": "u-1"}}
	if err := cd.WriteISO(ctx, drive); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ iso, label, file, want string }{
		{nocloud, "cidata", "/user-data", string(nc.UserData)},
		{nocloud, "cidata", "/meta-data", "instance-id: iid-"},
		{nocloud, "cidata", "/network-config", "version: 2\n"},
		{drive, "config-2", "/openstack/latest/user_data", string(cd.UserData)},
		{drive, "config-2", "/openstack/latest/meta_data.json", `{"uuid":"u-1"}`},
	} {
		info := string(mustRun(t, "isoinfo", "-d", "-i", tc.iso))
		if !strings.Contains(info, "Volume id: "+tc.label+"\n") {
			t.Errorf("%s: no volume id %s in:\n%s", filepath.Base(tc.iso), tc.label, info)
		}
		got := string(mustRun(t, "isoinfo", "-R", "-i", tc.iso, "-x", tc.file))
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s%s = %q; want it to start with %q", filepath.Base(tc.iso), tc.file, got, tc.want)
		}
	}
}

// TestQEMUFailsFast: a QEMU that cannot start is reported with its own message, not a hang.
func TestQEMUFailsFast(t *testing.T) {
	RequireTools(t)
	// The minute counts from QEMU's start: Boot may first wait for a place (Slot) while other
	// tests' guests run.
	vm, err := Boot(t.Context(), Options{Image: blankDisk(t), TempDir: t.TempDir(), ExtraArgs: []string{"-no-such-option"}})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = vm.WaitFor(ctx, regexp.MustCompile("never"))
	if err == nil || !strings.Contains(err.Error(), "no-such-option") {
		t.Fatalf("WaitFor = %v; want QEMU's complaint about -no-such-option", err)
	}
}

// TestStopCleansUp boots a disk with nothing to boot (SeaBIOS keeps QEMU running), then
// checks that a WaitFor times out and that Stop kills QEMU and removes every scratch file
// while leaving the image untouched.
func TestStopCleansUp(t *testing.T) {
	RequireTools(t)
	tmp := t.TempDir()
	image := blankDisk(t)
	before, _ := os.ReadFile(image)
	vm, err := Boot(context.Background(), Options{Image: image, TempDir: tmp, MemoryMiB: 64,
		NoCloud: &NoCloud{UserData: []byte("#cloud-config\n")}, ConfigDrive: &ConfigDrive{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := vm.WaitFor(ctx, regexp.MustCompile("never")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor = %v; want a deadline error", err)
	}
	if vm.Exited() {
		t.Fatal("QEMU exited by itself")
	}
	if cpu := vm.CPUTime(); cpu != 0 {
		t.Errorf("CPUTime while QEMU runs = %v; want 0 (known only once it has exited)", cpu)
	}
	pid := vm.PID()
	if err := vm.Stop(); err != nil {
		t.Fatal(err)
	}
	// A second of SeaBIOS under TCG, and QEMU's own start, cost processor time.
	if cpu := vm.CPUTime(); cpu <= 0 {
		t.Errorf("CPUTime after Stop = %v; want QEMU's processor time", cpu)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("QEMU PID %d after Stop: kill(0) = %v; want ESRCH", pid, err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("Stop left %d entries in %s", len(left), tmp)
	}
	if after, _ := os.ReadFile(image); !bytes.Equal(before, after) {
		t.Error("the image changed")
	}
	if err := vm.Stop(); err != nil {
		t.Errorf("second Stop = %v", err)
	}
}

func blankDisk(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "blank.raw")
	if err := os.WriteFile(p, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustRun(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	out, err := run(context.Background(), name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustRunStdin(t testing.TB, stdin, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", name, err, out)
	}
}

// TestTapInNetns runs QEMU inside a network namespace made here, on a tap device in it, and
// checks that the PID Boot holds is QEMU's, in that namespace, with the tap attached.
func TestTapInNetns(t *testing.T) {
	RequireTools(t, "ip")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root")
		}
		t.Skip("needs root (network namespaces, /dev/net/tun)")
	}
	ns := "qemutest-" + randomID()
	mustRun(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { run(context.Background(), "ip", "netns", "del", ns) })
	mustRun(t, "ip", "-n", ns, "tuntap", "add", "dev", "tap0", "mode", "tap")
	mustRun(t, "ip", "-n", ns, "link", "set", "dev", "tap0", "up")

	tmp := t.TempDir()
	vm, err := Boot(context.Background(), Options{Image: blankDisk(t), TempDir: tmp, MemoryMiB: 64,
		Network: Network{Netns: ns, Tap: "tap0", MAC: "52:54:00:aa:bb:01"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Stop() })
	// QEMU opens the tap once it has started: poll for the carrier, at most 30 s.
	var link string
	for range 150 {
		link = string(mustRun(t, "ip", "-n", ns, "link", "show", "dev", "tap0"))
		if strings.Contains(link, "LOWER_UP") || vm.Exited() {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(link, "LOWER_UP") {
		t.Fatalf("tap0 has no carrier (QEMU exited: %v, %v):\n%s", vm.Exited(), vm.exitErr(), link)
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(vm.PID()) + "/exe")
	if err != nil || !strings.Contains(exe, "qemu-system-x86_64") {
		t.Errorf("PID %d runs %q, %v; want QEMU", vm.PID(), exe, err)
	}
	want, err1 := os.Stat("/run/netns/" + ns)
	got, err2 := os.Stat("/proc/" + strconv.Itoa(vm.PID()) + "/ns/net")
	if err1 != nil || err2 != nil || !os.SameFile(want, got) {
		t.Errorf("QEMU is not in netns %s (%v, %v)", ns, err1, err2)
	}
}

// TestSlot: no more than MaxVMs places are held at once, across the places of this process; a
// released place is taken by the next waiter, and a waiter whose ctx ends gives up.
func TestSlot(t *testing.T) {
	var held []func()
	for range MaxVMs {
		release, err := Slot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, release)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	defer cancel()
	if _, err := Slot(ctx); err == nil {
		t.Fatalf("took a place beyond the %d held", MaxVMs)
	}
	held[0]()
	release, err := Slot(t.Context())
	if err != nil {
		t.Fatalf("a released place was not taken: %v", err)
	}
	release()
	for _, r := range held[1:] {
		r()
	}
}
