package chroot

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestStepChecksumImage(t *testing.T) {
	image := filepath.Join(t.TempDir(), "a.raw")
	if err := os.WriteFile(image, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	state, _ := testState(t, &Config{}, &fakeDriver{})
	state.Put("image_path", image)
	if err := stateErrorAfter((&stepChecksumImage{}).Run(context.Background(), state), state); err != nil {
		t.Fatal(err)
	}
	const sum = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" // sha256("abc")
	if got := state.Get("image_sha256"); got != sum {
		t.Errorf("sha256 %v", got)
	}
	if got := state.Get("image_size"); got != int64(3) {
		t.Errorf("size %v", got)
	}
	assertContent(t, image+".sha256", sum+"  a.raw\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := sha256File(ctx, image); err == nil {
		t.Error("a cancelled checksum succeeded")
	}
}
