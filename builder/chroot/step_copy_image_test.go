package chroot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/common"
)

func forceConfig() common.PackerConfig { return common.PackerConfig{PackerForce: true} }

func TestStepCopyImage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		name string
		d    *fakeDriver
		want string
	}{
		{"qcow2", &fakeDriver{info: ImageInfo{Format: "qcow2"}}, ""},
		{"vmdk", &fakeDriver{info: ImageInfo{Format: "vmdk"}}, "vmdk format"},
		{"damaged", &fakeDriver{info: ImageInfo{Format: "qcow2"}, fail: map[string]error{"check": errors.New("3 corruptions")}}, "is damaged: 3 corruptions"},
		{"unreadable", &fakeDriver{fail: map[string]error{"info": errors.New("no such file")}}, "not a readable disk image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, _ := testState(t, &Config{SourceImage: "s.qcow2", OutputDirectory: out}, tc.d)
			state.Put("source_path", "/src/s.qcow2")
			step := &stepCopyImage{}
			err := stateErrorAfter(step.Run(context.Background(), state), state)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "s.qcow2") {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			work := state.Get("work_image").(string)
			if want := "convert /src/s.qcow2 qcow2 " + work + " raw "; tc.d.Calls()[2] != want {
				t.Errorf("calls %q", tc.d.Calls())
			}
			if filepath.Dir(filepath.Dir(work)) != filepath.Dir(out) {
				t.Errorf("working copy %s is not beside the output directory", work)
			}
			step.Cleanup(state)
			if _, err := os.Stat(filepath.Dir(work)); !os.IsNotExist(err) {
				t.Errorf("working directory left behind")
			}
		})
	}
}
