package chroot

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// stepFindRoot picks the root partition: root_partition if set, else the
// ext2/3/4 partition holding /etc/os-release, else the largest ext4.
//
// Produces: "root_partition" (int), "root_device" (string),
// "partition_tags" (map[int]map[string]string, blkid tags).
type stepFindRoot struct{}

func (s *stepFindRoot) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	c, d, ui, _ := stateOf(state)
	table := state.Get("partition_table").(PartitionTable)
	devices := state.Get("partition_devices").(map[int]string)
	tags := map[int]map[string]string{}
	for _, p := range table.Partitions {
		t, err := d.Probe(ctx, devices[p.Number])
		if err != nil {
			return halt(state, fmt.Errorf("probing partition %d: %w", p.Number, err))
		}
		tags[p.Number] = t
	}
	state.Put("partition_tags", tags)
	n, err := findRoot(ctx, d, table, devices, tags, c.RootPartition)
	if err != nil {
		return halt(state, err)
	}
	ui.Say(fmt.Sprintf("Root filesystem: partition %d (%s)", n, tags[n]["TYPE"]))
	state.Put("root_partition", n)
	state.Put("root_device", devices[n])
	return multistep.ActionContinue
}

// findRoot implements the choice described on stepFindRoot.
func findRoot(ctx context.Context, d Driver, table PartitionTable, devices map[int]string, tags map[int]map[string]string, want int) (int, error) {
	if want != 0 {
		if _, ok := findPartition(table, want); !ok {
			return 0, fmt.Errorf("root_partition: the image has no partition %d (it has %d)", want, len(table.Partitions))
		}
		if !isExt(tags[want]["TYPE"]) {
			return 0, fmt.Errorf("root_partition: partition %d holds %q, not an ext2/3/4 filesystem", want, tags[want]["TYPE"])
		}
		return want, nil
	}
	largest := 0
	var size int64
	for _, p := range table.Partitions {
		if !isExt(tags[p.Number]["TYPE"]) {
			continue
		}
		ok, err := d.HasFile(ctx, devices[p.Number], "/etc/os-release")
		if err != nil {
			return 0, fmt.Errorf("looking for /etc/os-release on partition %d: %w", p.Number, err)
		}
		if ok {
			return p.Number, nil
		}
		if tags[p.Number]["TYPE"] == "ext4" && p.Size > size {
			largest, size = p.Number, p.Size
		}
	}
	if largest == 0 {
		return 0, fmt.Errorf("root_partition: no partition holds /etc/os-release and none is ext4: set root_partition to the root's partition number")
	}
	return largest, nil
}

func isExt(fstype string) bool { return strings.HasPrefix(fstype, "ext") && len(fstype) == 4 }

func (s *stepFindRoot) Cleanup(multistep.StateBag) {}
