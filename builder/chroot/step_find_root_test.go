package chroot

import (
	"context"
	"strings"
	"testing"
)

func TestStepFindRoot(t *testing.T) {
	devs := map[int]string{1: "/dev/l1", 2: "/dev/l2"}
	cases := []struct {
		name    string
		tags    map[string]map[string]string
		files   map[string]bool
		want    int
		wantErr string
		set     int
	}{
		{"os-release wins over size", map[string]map[string]string{"/dev/l1": {"TYPE": "ext4"}, "/dev/l2": {"TYPE": "ext4"}},
			map[string]bool{"/dev/l1:/etc/os-release": true}, 1, "", 0},
		{"largest ext4", map[string]map[string]string{"/dev/l1": {"TYPE": "ext4"}, "/dev/l2": {"TYPE": "ext4"}}, nil, 2, "", 0},
		{"skips vfat", map[string]map[string]string{"/dev/l1": {"TYPE": "ext4"}, "/dev/l2": {"TYPE": "vfat"}}, nil, 1, "", 0},
		{"none", map[string]map[string]string{"/dev/l1": {"TYPE": "vfat"}, "/dev/l2": {}}, nil, 0, "set root_partition", 0},
		{"explicit", map[string]map[string]string{"/dev/l1": {"TYPE": "ext3"}, "/dev/l2": {"TYPE": "ext4"}}, nil, 1, "", 1},
		{"explicit not ext", map[string]map[string]string{"/dev/l1": {"TYPE": "vfat"}, "/dev/l2": {"TYPE": "ext4"}}, nil, 0, "not an ext2/3/4", 1},
		{"explicit missing", map[string]map[string]string{"/dev/l1": {"TYPE": "ext4"}}, nil, 0, "no partition 3", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDriver{tags: tc.tags, files: tc.files}
			state, _ := testState(t, &Config{RootPartition: tc.set}, d)
			state.Put("partition_table", twoPartitions())
			state.Put("partition_devices", devs)
			(&stepFindRoot{}).Run(context.Background(), state)
			err := stateError(state)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := state.Get("root_partition").(int); got != tc.want {
				t.Errorf("root %d, want %d", got, tc.want)
			}
			if got := state.Get("root_device").(string); got != devs[tc.want] {
				t.Errorf("root_device %s", got)
			}
		})
	}
}
