package chroot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// chrootEnv is the whole environment of commands run in the chroot, so
// nothing leaks in from the Packer host.
var chrootEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"LANG=C.UTF-8",
}

// waitDelay bounds how long Wait waits for a killed command, or for
// background children that keep its output open.
const waitDelay = 5 * time.Second

// Communicator runs commands and copies files inside a mounted root
// filesystem. Unlike the SDK's chroot communicator it passes commands to
// the guest's /bin/sh as one argument (no host shell, no re-quoting),
// resolves every path inside Root, keeps file modes, supports directories
// both ways and kills the command's process group when ctx is cancelled.
type Communicator struct {
	// Root is the host path of the mounted root filesystem.
	Root string
}

var _ packersdk.Communicator = (*Communicator)(nil)

// Start runs rc.Command with /bin/sh -c inside the root and returns once it
// has started; rc.SetExited reports the exit status (-1 when killed).
func (c *Communicator) Start(ctx context.Context, rc *packersdk.RemoteCmd) error {
	bin, err := lookTool("chroot")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, c.Root, "/bin/sh", "-c", rc.Command)
	cmd.Env = chrootEnv
	cmd.Stdin, cmd.Stdout, cmd.Stderr = rc.Stdin, rc.Stdout, rc.Stderr
	ownProcessGroup(cmd)
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %q in chroot %s: %w", rc.Command, c.Root, err)
	}
	go func() {
		err := cmd.Wait()
		code := 0
		switch {
		case cmd.ProcessState != nil:
			code = cmd.ProcessState.ExitCode()
		case err != nil:
			code = -1
		}
		rc.SetExited(code)
	}()
	return nil
}

// Upload writes r to dst inside the root, through a temporary file renamed
// into place. The mode comes from fi, else from the file it replaces, else
// 0644. The directory of dst must exist.
func (c *Communicator) Upload(dst string, r io.Reader, fi *os.FileInfo) error {
	rel, err := resolveInRoot(c.Root, dst, true)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(c.Root)
	if err != nil {
		return err
	}
	defer root.Close()
	mode := fs.FileMode(0o644)
	if st, err := root.Stat(rel); err == nil {
		if st.IsDir() {
			return fmt.Errorf("uploading to %s: it is a directory in the image", dst)
		}
		mode = fileMode(st.Mode())
	}
	if fi != nil {
		mode = fileMode((*fi).Mode())
	}
	tmp := path.Join(path.Dir(rel), "."+path.Base(rel)+".upload-"+randomSuffix())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("uploading to %s: %w", dst, err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, rel)
	}
	if err != nil {
		_ = root.Remove(tmp)
		return fmt.Errorf("uploading to %s: %w", dst, err)
	}
	return nil
}

// fileMode keeps the permission and special bits of m.
func fileMode(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// UploadDir copies the host directory src to dst inside the root with
// rsync's rule: "src/" copies the contents of src into dst, "src" copies
// src itself to dst/<base of src>. Paths matching an exclude pattern
// (filepath.Match against the relative path or the base name) are skipped.
func (c *Communicator) UploadDir(dst, src string, exclude []string) error {
	target := dst
	if !strings.HasSuffix(src, "/") {
		target = path.Join(dst, filepath.Base(src))
	}
	root, err := os.OpenRoot(c.Root)
	if err != nil {
		return err
	}
	defer root.Close()
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel != "." && excluded(rel, exclude) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		return c.uploadEntry(root, path.Join(target, filepath.ToSlash(rel)), p, d)
	})
}

// uploadEntry copies one host entry (directory, file or symlink) to dst.
func (c *Communicator) uploadEntry(root *os.Root, dst, host string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	switch {
	case d.IsDir():
		rel, err := resolveInRoot(c.Root, dst, true)
		if err != nil {
			return err
		}
		if err := root.MkdirAll(rel, 0o755); err != nil {
			return fmt.Errorf("uploading %s to %s: %w", host, dst, err)
		}
		return root.Chmod(rel, fileMode(info.Mode()))
	case d.Type()&fs.ModeSymlink != 0:
		link, err := os.Readlink(host)
		if err != nil {
			return err
		}
		rel, err := resolveInRoot(c.Root, dst, false)
		if err != nil {
			return err
		}
		_ = root.Remove(rel)
		return root.Symlink(link, rel)
	case d.Type().IsRegular():
		f, err := os.Open(host)
		if err != nil {
			return err
		}
		defer f.Close()
		return c.Upload(dst, f, &info)
	}
	return nil // sockets, devices and pipes are not copied
}

// excluded reports whether rel matches one of the patterns.
func excluded(rel string, patterns []string) bool {
	for _, p := range patterns {
		p = strings.TrimSuffix(p, "/")
		if ok, _ := filepath.Match(p, rel); ok {
			return true
		}
		if ok, _ := filepath.Match(p, filepath.Base(rel)); ok {
			return true
		}
	}
	return false
}

// Download copies the file src inside the root to w.
func (c *Communicator) Download(src string, w io.Writer) error {
	rel, err := resolveInRoot(c.Root, src, true)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(c.Root)
	if err != nil {
		return err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", src, err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("downloading %s: %w", src, err)
	}
	return nil
}

// DownloadDir copies the directory src inside the root to the host path
// dst, with the same trailing-slash rule and exclude patterns as UploadDir.
// Symlinks are copied as symlinks, never followed.
func (c *Communicator) DownloadDir(src, dst string, exclude []string) error {
	target := dst
	if !strings.HasSuffix(src, "/") {
		target = filepath.Join(dst, path.Base(path.Clean(src)))
	}
	relSrc, err := resolveInRoot(c.Root, src, true)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(c.Root)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), relSrc, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("downloading %s: %w", src, err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, relSrc), "/")
		if relSrc == "." {
			rel = p
		}
		if rel != "" && rel != "." && excluded(rel, exclude) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		return downloadEntry(root, p, filepath.Join(target, filepath.FromSlash(rel)), d)
	})
}

// downloadEntry copies one entry of root to the host path dst.
func downloadEntry(root *os.Root, rel, dst string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	switch {
	case d.IsDir():
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		return os.Chmod(dst, fileMode(info.Mode()))
	case d.Type()&fs.ModeSymlink != 0:
		link, err := root.Readlink(rel)
		if err != nil {
			return err
		}
		_ = os.Remove(dst)
		return os.Symlink(link, dst)
	case d.Type().IsRegular():
		in, err := root.Open(rel)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		if err == nil {
			err = out.Chmod(fileMode(info.Mode()))
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return nil
}
