package chroot

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// fakeDriver records calls and answers from its fields, for step unit
// tests; driver_test.go tests hostDriver on real images.
type fakeDriver struct {
	mu    sync.Mutex
	calls []string
	// fail makes the call whose record starts with the key fail.
	fail  map[string]error
	info  ImageInfo
	check ImageCheck
	table PartitionTable
	tags  map[string]map[string]string // by device
	files map[string]bool              // "dev:path"
	next  int                          // next loop device number
	// onMount, if set, runs on every successful Mount (to fill a root).
	onMount func(source, target string)
}

func (f *fakeDriver) record(format string, a ...interface{}) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := fmt.Sprintf(format, a...)
	f.calls = append(f.calls, call)
	for k, err := range f.fail {
		if strings.HasPrefix(call, k) {
			return err
		}
	}
	return nil
}

func (f *fakeDriver) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeDriver) ImageInfo(_ context.Context, p string) (ImageInfo, error) {
	return f.info, f.record("info %s", p)
}
func (f *fakeDriver) CheckImage(_ context.Context, p, format string) (ImageCheck, error) {
	return f.check, f.record("check %s %s", p, format)
}
func (f *fakeDriver) ConvertImage(_ context.Context, src, sf, dst, df string, o ConvertOptions) error {
	return f.record("convert %s %s %s %s %s", src, sf, dst, df, o.Compression)
}
func (f *fakeDriver) ConvertOverBase(_ context.Context, work, base, dst string, _ func(float64)) error {
	return f.record("overbase %s %s %s", work, base, dst)
}
func (f *fakeDriver) Trim(_ context.Context, dir string) (string, error) {
	return dir + ": 1 MiB (1048576 bytes) trimmed", f.record("trim %s", dir)
}
func (f *fakeDriver) ResizeImage(p string, size int64) error {
	return f.record("resize %s %d", p, size)
}
func (f *fakeDriver) Partitions(_ context.Context, p string) (PartitionTable, error) {
	return f.table, f.record("partitions %s", p)
}
func (f *fakeDriver) GrowPartition(_ context.Context, p string, n int) error {
	return f.record("growpart %s %d", p, n)
}
func (f *fakeDriver) Attach(_ context.Context, p string) (string, error) {
	dev := f.newDevice()
	return dev, f.record("attach %s %s", p, dev)
}
func (f *fakeDriver) AttachRange(_ context.Context, p string, off, size int64) (string, error) {
	dev := f.newDevice()
	return dev, f.record("attachrange %s %d %d %s", p, off, size, dev)
}
func (f *fakeDriver) newDevice() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	return fmt.Sprintf("/dev/fakeloop%d", f.next-1)
}
func (f *fakeDriver) Detach(_ context.Context, dev string) error { return f.record("detach %s", dev) }
func (f *fakeDriver) Probe(_ context.Context, dev string) (map[string]string, error) {
	return f.tags[dev], f.record("probe %s", dev)
}
func (f *fakeDriver) HasFile(_ context.Context, dev, p string) (bool, error) {
	return f.files[dev+":"+p], f.record("hasfile %s %s", dev, p)
}
func (f *fakeDriver) CheckFilesystem(_ context.Context, dev string) error {
	return f.record("e2fsck %s", dev)
}
func (f *fakeDriver) ResizeFilesystem(_ context.Context, dev string) error {
	return f.record("resize2fs %s", dev)
}
func (f *fakeDriver) Mount(_ context.Context, fstype, src, dst, opts string) error {
	err := f.record("mount %s %s %s", fstype, src, dst)
	if err == nil && f.onMount != nil {
		f.onMount(src, dst)
	}
	return err
}
func (f *fakeDriver) Unmount(_ context.Context, dst string) error { return f.record("umount %s", dst) }

var _ Driver = (*fakeDriver)(nil)

// testState returns a state bag holding c, d, a UI writing to a buffer and
// an undo stack.
func testState(t *testing.T, c *Config, d Driver) (multistep.StateBag, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	state := new(multistep.BasicStateBag)
	state.Put("config", c)
	state.Put("driver", d)
	state.Put("ui", &packersdk.BasicUi{Reader: new(bytes.Buffer), Writer: &out, ErrorWriter: &out, PB: &packersdk.NoopProgressTracker{}})
	state.Put("undo", new(undoStack))
	state.Put("hook", &packersdk.MockHook{})
	return state, &out
}

// stateError returns the error a step put in the state, or nil.
func stateError(state multistep.StateBag) error {
	if err, ok := state.GetOk("error"); ok {
		return err.(error)
	}
	return nil
}

// stateErrorAfter returns the state's error, checking that action agrees.
func stateErrorAfter(action multistep.StepAction, state multistep.StateBag) error {
	err := stateError(state)
	if (err == nil) != (action == multistep.ActionContinue) {
		return fmt.Errorf("action %v with error %v", action, err)
	}
	return err
}
