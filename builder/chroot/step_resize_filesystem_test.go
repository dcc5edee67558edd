package chroot

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestStepResizeFilesystem(t *testing.T) {
	for _, tc := range []struct {
		grown, root int
		wantCalls   []string
		wantErr     string
	}{
		{0, 2, nil, ""},
		{2, 2, []string{"e2fsck /dev/l2", "resize2fs /dev/l2"}, ""},
		{2, 1, nil, "set root_partition = 1"},
	} {
		d := &fakeDriver{}
		state, _ := testState(t, &Config{}, d)
		state.Put("grown_partition", tc.grown)
		state.Put("root_partition", tc.root)
		state.Put("root_device", "/dev/l2")
		(&stepResizeFilesystem{}).Run(context.Background(), state)
		err := stateError(state)
		if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("grown %d root %d: error %v, want %q", tc.grown, tc.root, err, tc.wantErr)
		}
		if !reflect.DeepEqual(d.Calls(), tc.wantCalls) {
			t.Errorf("grown %d root %d: calls %q", tc.grown, tc.root, d.Calls())
		}
	}
}
