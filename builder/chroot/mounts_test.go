package chroot

import (
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseFstab(t *testing.T) {
	in := "# comment\n\nUUID=1 / ext4 defaults 0 1\nLABEL=EFI\\040SYS /boot/efi vfat umask=077 0 1\n" +
		"UUID=2 /boot/ ext4 defaults\nnone /tmp tmpfs\n  # indented comment\nbroken\n"
	got := parseFstab(in, "/boot", "/boot/efi")
	want := []fstabEntry{
		{Spec: "UUID=2", Dir: "/boot", Type: "ext4", Options: "defaults"},
		{Spec: "LABEL=EFI SYS", Dir: "/boot/efi", Type: "vfat", Options: "umask=077"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseFstab = %+v", got)
	}
}

func TestMatchSpec(t *testing.T) {
	table := twoPartitions()
	tags := map[int]map[string]string{1: {"UUID": "aaaa", "LABEL": "boot"}, 2: {"UUID": "bbbb"}}
	for spec, want := range map[string]int{
		"UUID=BBBB": 2, `UUID="aaaa"`: 1, "LABEL=boot": 1, "PARTUUID=abcd1234-02": 2,
		"PARTUUID=ffff-01": 0, "/dev/sda1": 0, "UUID=zzz": 0,
	} {
		if got := matchSpec(spec, table, tags); got != want {
			t.Errorf("matchSpec(%q) = %d, want %d", spec, got, want)
		}
	}
}

// TestKillProcessesIn: a daemon a provisioner left in the chroot is killed, and nothing else.
func TestKillProcessesIn(t *testing.T) {
	requireRoot(t)
	requireTools(t, "chroot")
	root := busyboxRoot(t)
	daemon := mustCommand(t, "chroot", root, "/bin/sleep", "100")
	outside := mustCommand(t, "sleep", "100")
	for _, c := range []*exec.Cmd{daemon, outside} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	defer outside.Process.Kill()
	for i := 0; i < 100 && len(processesIn(root)) == 0; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if err := killProcessesIn(root); err != nil {
		t.Fatal(err)
	}
	if err := daemon.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("the chrooted sleep ended with %v, want killed", err)
	}
	if err := outside.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("a process outside the root was stopped: %v", err)
	}
}
