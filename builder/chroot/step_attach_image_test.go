package chroot

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

func TestStepAttachImageWithoutKernelPartitions(t *testing.T) {
	d := &fakeDriver{table: twoPartitions()}
	state, _ := testState(t, &Config{}, d)
	state.Put("work_image", "w")
	step := &stepAttachImage{sysBlock: t.TempDir()}
	if action := step.Run(context.Background(), state); action != multistep.ActionContinue {
		t.Fatal(stateError(state))
	}
	devs := state.Get("partition_devices").(map[int]string)
	if devs[1] != "/dev/fakeloop1" || devs[2] != "/dev/fakeloop2" {
		t.Errorf("partition_devices = %v", devs)
	}
	step.Cleanup(state)
	step.Cleanup(state) // a second Cleanup does nothing
	want := []string{"partitions w", "attach w /dev/fakeloop0",
		"attachrange w 1048576 16777216 /dev/fakeloop1", "attachrange w 17825792 41943040 /dev/fakeloop2",
		"detach /dev/fakeloop2", "detach /dev/fakeloop1", "detach /dev/fakeloop0"}
	if got := d.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
}

func TestStepAttachImageFailureDetachesWhatWasAttached(t *testing.T) {
	d := &fakeDriver{table: twoPartitions(), fail: map[string]error{"attachrange w 17825792": errors.New("no free loop device")}}
	state, _ := testState(t, &Config{}, d)
	state.Put("work_image", "w")
	step := &stepAttachImage{sysBlock: t.TempDir()}
	if action := step.Run(context.Background(), state); action != multistep.ActionHalt || stateError(state) == nil {
		t.Fatal("attach did not fail")
	}
	step.Cleanup(state)
	calls := d.Calls()
	want := []string{"detach /dev/fakeloop1", "detach /dev/fakeloop0"}
	if got := calls[len(calls)-2:]; !reflect.DeepEqual(got, want) {
		t.Errorf("last calls %q, want %q", got, want)
	}
}
