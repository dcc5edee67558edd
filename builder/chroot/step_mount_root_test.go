package chroot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestStepMountRoot(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "mnt")
	fstab := "UUID=r00t / ext4 defaults 0 1\nPARTUUID=abcd1234-01 /boot/efi vfat umask=077 0 1\nUUID=b00t /boot ext4 defaults 0 2\n/dev/sdb1 /boot/other ext4 defaults 0 2\n"
	// The fake mount of the root writes an fstab with /boot by UUID,
	// /boot/efi by PARTUUID and a line for a disk not in the image.
	d := &fakeDriver{onMount: func(src, dst string) {
		if src != "/dev/l2" {
			return
		}
		if err := os.MkdirAll(filepath.Join(dst, "etc"), 0o755); err != nil {
			t.Error(err)
		}
		if err := os.WriteFile(filepath.Join(dst, "etc/fstab"), []byte(fstab), 0o644); err != nil {
			t.Error(err)
		}
	}}
	c := &Config{MountPath: mnt}
	state, _ := testState(t, c, d)
	state.Put("root_device", "/dev/l2")
	state.Put("root_partition", 2)
	state.Put("partition_table", twoPartitions())
	state.Put("partition_devices", map[int]string{1: "/dev/l1", 2: "/dev/l2"})
	state.Put("partition_tags", map[int]map[string]string{1: {"TYPE": "ext4", "UUID": "B00T"}, 2: {"TYPE": "ext4"}})
	step := &stepMountRoot{}
	if err := stateErrorAfter(step.Run(context.Background(), state), state); err != nil {
		t.Fatal(err)
	}
	if comm := state.Get("communicator").(*Communicator); comm.Root != mnt {
		t.Errorf("communicator root %s", comm.Root)
	}
	if got, want := state.Get("image_mounts"), []string{mnt, mnt + "/boot", mnt + "/boot/efi"}; !reflect.DeepEqual(got, want) {
		t.Errorf("image_mounts %q, want %q (what stepTrimFilesystems trims)", got, want)
	}
	step.Cleanup(state)
	want := []string{
		"mount ext4 /dev/l2 " + mnt,
		"mount ext4 /dev/l1 " + mnt + "/boot",
		"mount ext4 /dev/l1 " + mnt + "/boot/efi",
		"umount " + mnt + "/boot/efi",
		"umount " + mnt + "/boot",
		"umount " + mnt,
	}
	if got := d.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
	// mount_path did not exist, so the build made it; as the fake mount
	// left files in it, it must not be removed (only an empty one is).
	if _, err := os.Stat(mnt); err != nil {
		t.Errorf("a non-empty mount_path was removed: %v", err)
	}
}

func TestStepMountRootRefusesBusyMountPath(t *testing.T) {
	mnt := t.TempDir()
	if err := os.WriteFile(filepath.Join(mnt, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d := &fakeDriver{}
	state, _ := testState(t, &Config{MountPath: mnt}, d)
	state.Put("root_device", "/dev/l2")
	state.Put("root_partition", 2)
	state.Put("partition_tags", map[int]map[string]string{2: {"TYPE": "ext4"}})
	err := stateErrorAfter((&stepMountRoot{}).Run(context.Background(), state), state)
	if err == nil || !strings.Contains(err.Error(), "mount_path:") {
		t.Fatalf("error %v", err)
	}
	if len(d.Calls()) != 0 {
		t.Errorf("calls %q", d.Calls())
	}
}

func TestStepMountRootDefaultMountPathIsRemoved(t *testing.T) {
	d := &fakeDriver{fail: map[string]error{"mount": fmt.Errorf("bad superblock")}}
	state, _ := testState(t, &Config{SourceImage: "src.img"}, d)
	state.Put("root_device", "/dev/l2")
	state.Put("root_partition", 2)
	state.Put("partition_tags", map[int]map[string]string{2: {"TYPE": "ext4"}})
	step := &stepMountRoot{}
	err := stateErrorAfter(step.Run(context.Background(), state), state)
	if err == nil || !strings.Contains(err.Error(), "src.img") {
		t.Fatalf("error %v", err)
	}
	call := d.Calls()[0]
	dir := call[strings.LastIndex(call, " ")+1:]
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("temporary mount point %s not made: %v", dir, err)
	}
	step.Cleanup(state)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary mount point %s left behind", dir)
	}
}
