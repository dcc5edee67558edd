package chroot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxSymlinks bounds symlink resolution, as the kernel's ELOOP limit does.
const maxSymlinks = 40

// resolveInRoot resolves p the way a process chrooted into root would see
// it: ".." stops at the root and absolute symlinks start again from the
// root, so the result never leaves it. It returns a path relative to root
// (for os.Root) with no symlink in its directories; with followFinal a
// symlink in the last component is resolved too. Missing components are
// kept as they are, so the result can name a file to create.
func resolveInRoot(root, p string, followFinal bool) (string, error) {
	rest := strings.Split(p, "/")
	var done []string
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cand := append(done[:len(done):len(done)], c)
		if !followFinal && !hasComponent(rest) {
			done = cand
			continue
		}
		host := filepath.Join(root, filepath.Join(cand...))
		fi, err := os.Lstat(host)
		if errors.Is(err, fs.ErrNotExist) {
			done = cand
			continue
		}
		if err != nil {
			return "", fmt.Errorf("resolving %s in %s: %w", p, root, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = cand
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("resolving %s in %s: too many levels of symbolic links", p, root)
		}
		target, err := os.Readlink(host)
		if err != nil {
			return "", fmt.Errorf("resolving %s in %s: %w", p, root, err)
		}
		if path.IsAbs(target) {
			done = nil
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// hasComponent reports whether parts still name a path component.
func hasComponent(parts []string) bool {
	for _, c := range parts {
		if c != "" && c != "." {
			return true
		}
	}
	return false
}
