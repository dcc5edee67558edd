package chroot

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

func TestStepConvertImage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	d := &fakeDriver{}
	c := &Config{OutputDirectory: out, ImageName: "a.qcow2", Format: "qcow2", Compression: "zstd"}
	state, _ := testState(t, c, d)
	state.Put("work_image", "w.raw")
	step := &stepConvertImage{}
	if err := stateErrorAfter(step.Run(context.Background(), state), state); err != nil {
		t.Fatal(err)
	}
	want := []string{"convert w.raw raw " + out + "/a.qcow2 qcow2 zstd"}
	if !reflect.DeepEqual(d.Calls(), want) {
		t.Errorf("calls %q", d.Calls())
	}
	step.Cleanup(state)
	if _, err := os.Stat(out); err != nil {
		t.Errorf("a successful build's output was removed: %v", err)
	}
	// A later failure removes the output.
	state.Put(multistep.StateHalted, true)
	step.Cleanup(state)
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output of a failed build left behind: %v", err)
	}
}

func TestStepConvertImageOutputExists(t *testing.T) {
	out := t.TempDir()
	keep := filepath.Join(out, "keep")
	if err := os.WriteFile(keep, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	state, _ := testState(t, &Config{OutputDirectory: out, ImageName: "a.raw", Format: "raw"}, &fakeDriver{})
	state.Put("work_image", "w.raw")
	step := &stepConvertImage{}
	err := stateErrorAfter(step.Run(context.Background(), state), state)
	if err == nil || !strings.Contains(err.Error(), "-force") {
		t.Fatalf("error %v", err)
	}
	state.Put(multistep.StateHalted, true)
	step.Cleanup(state)
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("an output directory the build did not make was removed: %v", err)
	}
	// With -force it is replaced.
	state, _ = testState(t, &Config{OutputDirectory: out, ImageName: "a.raw", Format: "raw", PackerConfig: forceConfig()}, &fakeDriver{})
	state.Put("work_image", "w.raw")
	if err := stateErrorAfter((&stepConvertImage{}).Run(context.Background(), state), state); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(keep); !os.IsNotExist(err) {
		t.Errorf("-force kept the old output")
	}
}
