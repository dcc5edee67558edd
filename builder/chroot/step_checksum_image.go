package chroot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// stepChecksumImage writes <image>.sha256 beside the image, in the format
// sha256sum -c reads.
//
// Produces: "image_sha256" (string), "image_size" (int64), "checksum_path".
type stepChecksumImage struct{}

func (s *stepChecksumImage) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	_, _, ui, _ := stateOf(state)
	image := state.Get("image_path").(string)
	ui.Say("Computing the image's sha256...")
	sum, size, err := sha256File(ctx, image)
	if err != nil {
		return halt(state, fmt.Errorf("checksumming the image: %w", err))
	}
	sumPath := image + ".sha256"
	line := fmt.Sprintf("%s  %s\n", sum, filepath.Base(image))
	if err := os.WriteFile(sumPath, []byte(line), 0o644); err != nil {
		return halt(state, fmt.Errorf("writing %s: %w", sumPath, err))
	}
	state.Put("image_sha256", sum)
	state.Put("image_size", size)
	state.Put("checksum_path", sumPath)
	return multistep.ActionContinue
}

// sha256File returns the hex sha256 and size of a file; ctx stops it.
func sha256File(ctx context.Context, name string) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, ctxReader{ctx, f})
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (s *stepChecksumImage) Cleanup(multistep.StateBag) {}
