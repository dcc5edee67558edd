package chroot

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

func twoPartitions() PartitionTable {
	return PartitionTable{Label: "dos", ID: "0xabcd1234", SectorSize: 512, Partitions: []Partition{
		{Number: 1, Start: 1 << 20, Size: 16 << 20},
		{Number: 2, Start: 17 << 20, Size: 40 << 20},
	}}
}

func TestStepGrowDisk(t *testing.T) {
	cases := []struct {
		name      string
		size      int64
		root      int
		wantErr   string
		wantCalls []string
		wantGrown int
	}{
		{"no disk_size", 0, 0, "", nil, 0},
		{"shrink", 32 << 20, 0, "smaller than the source image", []string{"info w"}, 0},
		{"same size", 64 << 20, 0, "", []string{"info w", "partitions w"}, 0},
		{"grow last", 128 << 20, 0, "", []string{"info w", "partitions w", "resize w 134217728", "growpart w 2"}, 2},
		{"grow root_partition", 128 << 20, 1, "", []string{"info w", "partitions w", "resize w 134217728", "growpart w 1"}, 1},
		{"missing root_partition", 128 << 20, 7, "root_partition: the image has no partition 7", []string{"info w", "partitions w"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDriver{info: ImageInfo{Format: "raw", VirtualSize: 64 << 20}, table: twoPartitions()}
			c := &Config{DiskSize: "x", diskSizeBytes: tc.size, RootPartition: tc.root}
			state, _ := testState(t, c, d)
			state.Put("work_image", "w")
			action := (&stepGrowDisk{}).Run(context.Background(), state)
			err := stateError(state)
			if tc.wantErr == "" && (err != nil || action != multistep.ActionContinue) {
				t.Fatalf("failed: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if !reflect.DeepEqual(d.Calls(), tc.wantCalls) {
				t.Errorf("calls %q, want %q", d.Calls(), tc.wantCalls)
			}
			if g := state.Get("grown_partition").(int); g != tc.wantGrown {
				t.Errorf("grown_partition %d, want %d", g, tc.wantGrown)
			}
		})
	}
}
