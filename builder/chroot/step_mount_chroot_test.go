package chroot

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestStepMountChroot(t *testing.T) {
	root := t.TempDir()
	d := &fakeDriver{}
	state, _ := testState(t, &Config{ChrootMounts: defaultChrootMounts}, d)
	state.Put("mount_path", root)
	step := &stepMountChroot{}
	if err := stateErrorAfter(step.Run(context.Background(), state), state); err != nil {
		t.Fatal(err)
	}
	step.Cleanup(state)
	want := []string{
		"mount proc proc " + root + "/proc", "mount sysfs sysfs " + root + "/sys",
		"mount bind /dev " + root + "/dev", "mount devpts devpts " + root + "/dev/pts",
		"umount " + root + "/dev/pts", "umount " + root + "/dev", "umount " + root + "/sys", "umount " + root + "/proc",
	}
	if got := d.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
}

func TestStepMountChrootFailureUnmountsEarlierMounts(t *testing.T) {
	root := t.TempDir()
	d := &fakeDriver{fail: map[string]error{"mount bind": errors.New("permission denied")}}
	state, _ := testState(t, &Config{ChrootMounts: defaultChrootMounts}, d)
	state.Put("mount_path", root)
	step := &stepMountChroot{}
	err := stateErrorAfter(step.Run(context.Background(), state), state)
	if err == nil || !strings.Contains(err.Error(), "chroot_mounts: mounting /dev on /dev") {
		t.Fatalf("error %v", err)
	}
	step.Cleanup(state)
	calls := d.Calls()
	if got := calls[len(calls)-2:]; !reflect.DeepEqual(got, []string{"umount " + root + "/sys", "umount " + root + "/proc"}) {
		t.Errorf("cleanup calls %q", got)
	}
}
