package chroot

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

func TestBuilderConfigSpecHasEveryOption(t *testing.T) {
	spec := (&Builder{}).ConfigSpec()
	for _, k := range []string{"source_image", "source_image_checksum", "format", "compression", "output_directory", "image_name",
		"disk_size", "root_partition", "mount_path", "chroot_mounts", "copy_files"} {
		if _, ok := spec[k]; !ok {
			t.Errorf("ConfigSpec lacks %s", k)
		}
	}
}

// panicDriver panics when the build probes a partition.
type panicDriver struct{ *fakeDriver }

func (p panicDriver) Probe(ctx context.Context, dev string) (map[string]string, error) {
	panic("probe exploded")
}

// TestBuilderRunPanicReleasesEverything runs the whole builder with a
// driver that panics mid-build and checks that the build fails with the
// panic as its error and every loop device it attached is detached.
func TestBuilderRunPanicReleasesEverything(t *testing.T) {
	requireRoot(t)
	requireTools(t, requiredToolNames()...)
	t.Setenv("PACKER_CACHE_DIR", t.TempDir())
	src := filepath.Join(t.TempDir(), "src.raw")
	if err := os.WriteFile(src, []byte("raw"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	fake := &fakeDriver{info: ImageInfo{Format: "raw", VirtualSize: 3}, table: twoPartitions()}
	b := &Builder{driver: panicDriver{fake}}
	if _, _, err := b.Prepare(map[string]interface{}{"source_image": src, "output_directory": out, "packer_build_name": "p"}); err != nil {
		t.Fatal(err)
	}
	var uiOut bytes.Buffer
	ui := &packersdk.BasicUi{Reader: new(bytes.Buffer), Writer: &uiOut, ErrorWriter: &uiOut}
	art, err := b.Run(context.Background(), ui, &packersdk.MockHook{})
	if err == nil || art != nil || !strings.Contains(err.Error(), "probe exploded") {
		t.Fatalf("Run = %v, %v", art, err)
	}
	attached, detached := 0, 0
	for _, c := range fake.Calls() {
		if strings.HasPrefix(c, "attach") {
			attached++
		}
		if strings.HasPrefix(c, "detach") {
			detached++
		}
	}
	if attached != 3 || detached != attached {
		t.Errorf("%d loop devices attached, %d detached: %q", attached, detached, fake.Calls())
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Errorf("left in the output's parent: %v", entries)
	}
}

func requiredToolNames() []string {
	var names []string
	for _, tool := range requiredTools {
		names = append(names, tool.Name)
	}
	return names
}

// recordStep records its Run and Cleanup, and panics in Run if told to.
type recordStep struct {
	name  string
	panic bool
	log   *[]string
}

func (s *recordStep) Run(context.Context, multistep.StateBag) multistep.StepAction {
	*s.log = append(*s.log, "run "+s.name)
	if s.panic {
		panic("boom")
	}
	return multistep.ActionContinue
}

func (s *recordStep) Cleanup(multistep.StateBag) { *s.log = append(*s.log, "cleanup "+s.name) }

func TestGuardTurnsPanicIntoError(t *testing.T) {
	var log []string
	steps := guard([]multistep.Step{
		&recordStep{name: "a", log: &log},
		&recordStep{name: "b", panic: true, log: &log},
		&recordStep{name: "c", log: &log},
	})
	state, _ := testState(t, &Config{}, &fakeDriver{})
	(&multistep.BasicRunner{Steps: steps}).Run(context.Background(), state)
	err := stateError(state)
	if err == nil || !strings.Contains(err.Error(), "internal error in *chroot.recordStep: boom") {
		t.Fatalf("error %v", err)
	}
	if got := strings.Join(log, ","); got != "run a,run b,cleanup b,cleanup a" {
		t.Errorf("log %s", got)
	}
}

func TestArtifact(t *testing.T) {
	dir := t.TempDir()
	a := newArtifact(dir, filepath.Join(dir, "x.qcow2"), filepath.Join(dir, "x.qcow2.sha256"), "qcow2", 42, "abc", map[string]interface{}{"k": "v"})
	var _ packersdk.Artifact = a
	if a.BuilderId() != "clearwater.chroot" || a.Id() != "abc" || len(a.Files()) != 2 {
		t.Errorf("artifact %+v", a)
	}
	for k, want := range map[string]interface{}{"image_path": filepath.Join(dir, "x.qcow2"), "format": "qcow2", "size": int64(42), "sha256": "abc"} {
		if got := a.State(k); got != want {
			t.Errorf("State(%s) = %v, want %v", k, got, want)
		}
	}
	if !strings.Contains(a.String(), "qcow2 image") {
		t.Errorf("String() = %s", a.String())
	}
	if err := a.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("Destroy kept the directory")
	}
}
