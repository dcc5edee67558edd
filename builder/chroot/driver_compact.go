package chroot

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

func (hostDriver) ConvertImage(ctx context.Context, src, srcFormat, dst, dstFormat string, o ConvertOptions) error {
	args := append([]string{"convert", "-f", srcFormat, "-O", dstFormat}, o.qemuImgArgs(dstFormat)...)
	args = append(args, src, dst)
	bin, err := lookTool("qemu-img")
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv
	cmd.Stderr = &stderr
	if o.Progress != nil {
		cmd.Stdout = &progressWriter{report: o.Progress}
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("qemu-img %s: %w: %s", strings.Join(args, " "), err, tail(stderr.String(), 1024))
	}
	return nil
}

// Trim discards the unused blocks of the filesystem mounted at dir (fstrim -v), which a loop
// device turns into holes in its backing file. It returns fstrim's report.
func (hostDriver) Trim(ctx context.Context, dir string) (string, error) {
	out, err := run(ctx, "fstrim", "-v", dir)
	return strings.TrimSpace(out), err
}
