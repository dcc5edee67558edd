package chroot

import (
	"context"
	"fmt"
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

// TestStepConvertImageOverBase: a source compressed with the output's type is the output's
// start; any other is converted whole, and the build says why.
func TestStepConvertImageOverBase(t *testing.T) {
	for _, tc := range []struct {
		name, compression, want, says string
	}{
		{"same type", "zstd", "overbase w.raw /src.qcow2 %s", "over a copy of the source image"},
		{"other type", "zlib", "convert w.raw raw %s qcow2 zlib", "Every cluster is compressed again: the source image's compression type is zstd"},
	} {
		out := filepath.Join(t.TempDir(), "out")
		d := &fakeDriver{}
		state, ui := testState(t, &Config{OutputDirectory: out, ImageName: "a.qcow2", Format: "qcow2", Compression: tc.compression}, d)
		state.Put("work_image", "w.raw")
		state.Put("source_path", "/src.qcow2")
		state.Put("source_info", ImageInfo{Format: "qcow2", CompressionType: "zstd"})
		state.Put("source_check", ImageCheck{Allocated: 10, Compressed: 9})
		if err := stateErrorAfter((&stepConvertImage{}).Run(context.Background(), state), state); err != nil {
			t.Fatal(err)
		}
		if want := []string{fmt.Sprintf(tc.want, out+"/a.qcow2")}; !reflect.DeepEqual(d.Calls(), want) {
			t.Errorf("%s: calls %q, want %q", tc.name, d.Calls(), want)
		}
		if !strings.Contains(ui.String(), tc.says) {
			t.Errorf("%s: the build does not say %q:\n%s", tc.name, tc.says, ui.String())
		}
	}
}
