package chroot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

func (hostDriver) ConvertImage(ctx context.Context, src, srcFormat, dst, dstFormat string, o ConvertOptions) error {
	args := append([]string{"convert", "-f", srcFormat, "-O", dstFormat}, o.qemuImgArgs(dstFormat)...)
	return qemuImg(ctx, o.Progress, append(args, src, dst)...)
}

// ConvertOverBase copies base to dst, grows it to work's size, then finds the clusters where
// work differs with a safe `qemu-img rebase` of an empty overlay of work onto dst (it reads
// both and writes to the overlay only what differs) and commits the overlay into dst. Nothing
// is compressed again, so this costs a copy of base and one read of each image; base is only
// read. The overlay lives beside work and is removed.
func (d hostDriver) ConvertOverBase(ctx context.Context, work, base, dst string, progress func(float64)) error {
	work, err := filepath.Abs(work)
	if err != nil {
		return err
	}
	if dst, err = filepath.Abs(dst); err != nil {
		return err
	}
	if err := copyFile(base, dst); err != nil {
		return err
	}
	wi, err := os.Stat(work)
	if err != nil {
		return err
	}
	info, err := d.ImageInfo(ctx, dst)
	if err != nil {
		return err
	}
	if wi.Size() > info.VirtualSize {
		if err := qemuImg(ctx, nil, "resize", "-q", "-f", "qcow2", dst, strconv.FormatInt(wi.Size(), 10)); err != nil {
			return err
		}
	}
	delta := filepath.Join(filepath.Dir(work), "delta.qcow2")
	defer os.Remove(delta)
	if err := qemuImg(ctx, nil, "create", "-q", "-f", "qcow2", "-F", "raw", "-b", work, delta); err != nil {
		return err
	}
	rebase := []string{"rebase", "-f", "qcow2", "-F", "qcow2", "-b", dst, delta}
	if progress != nil {
		rebase = append(rebase[:1], append([]string{"-p"}, rebase[1:]...)...)
	}
	if err := qemuImg(ctx, progress, rebase...); err != nil {
		return err
	}
	// -d: the overlay is removed, so it need not be emptied.
	return qemuImg(ctx, nil, "commit", "-q", "-d", "-f", "qcow2", delta)
}

// qemuImg runs qemu-img with args; progress, when set, gets its -p reports.
func qemuImg(ctx context.Context, progress func(float64), args ...string) error {
	bin, err := lookTool("qemu-img")
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv
	cmd.Stderr = &stderr
	if progress != nil {
		cmd.Stdout = &progressWriter{report: progress}
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("qemu-img %s: %w: %s", strings.Join(args, " "), err, tail(stderr.String(), 1024))
	}
	return nil
}

// copyFile copies src to a new file dst (the kernel copies the data: copy_file_range).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return out.Close()
}

// Trim discards the unused blocks of the filesystem mounted at dir (fstrim -v), which a loop
// device turns into holes in its backing file. It returns fstrim's report.
func (hostDriver) Trim(ctx context.Context, dir string) (string, error) {
	out, err := run(ctx, "fstrim", "-v", dir)
	return strings.TrimSpace(out), err
}
