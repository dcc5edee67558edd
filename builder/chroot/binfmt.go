package chroot

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// binfmtHandler is one binfmt_misc registration as the kernel lists it in
// /proc/sys/fs/binfmt_misc/<name>. Only magic handlers are kept: a qemu-user
// handler is never registered by file extension.
type binfmtHandler struct {
	name        string
	enabled     bool
	interpreter string
	flags       string
	offset      int
	magic, mask []byte
}

// parseBinfmtHandler reads an entry of binfmt_misc. It reports false for an
// extension handler or anything it cannot read as a magic handler.
func parseBinfmtHandler(name string, b []byte) (binfmtHandler, bool) {
	h := binfmtHandler{name: name}
	for i, line := range strings.Split(string(b), "\n") {
		key, val, _ := strings.Cut(line, " ")
		var err error
		switch {
		case i == 0:
			h.enabled = line == "enabled"
		case key == "interpreter":
			h.interpreter = val
		case key == "flags:":
			h.flags = val
		case key == "offset":
			h.offset, err = strconv.Atoi(val)
		case key == "magic":
			h.magic, err = hex.DecodeString(val)
		case key == "mask":
			h.mask, err = hex.DecodeString(val)
		}
		if err != nil {
			return h, false
		}
	}
	if len(h.magic) == 0 || (h.mask != nil && len(h.mask) != len(h.magic)) || h.offset < 0 {
		return h, false
	}
	return h, true
}

// matches reports whether the kernel would hand a file starting with header
// to this handler: every byte of the magic, under the mask, at the offset.
func (h binfmtHandler) matches(header []byte) bool {
	if len(header) < h.offset+len(h.magic) {
		return false
	}
	for i, m := range h.magic {
		b := header[h.offset+i]
		if h.mask != nil {
			b &= h.mask[i]
		}
		if b != m {
			return false
		}
	}
	return true
}

// binfmtFix says how to get a handler for arch on a Debian or Ubuntu host.
func binfmtFix(dir, arch string) string {
	return fmt.Sprintf("install qemu-user-static and binfmt-support (apt-get install qemu-user-static binfmt-support), "+
		"then make sure binfmt_misc is mounted (mount -t binfmt_misc binfmt_misc %s) and the handlers are enabled "+
		"(update-binfmts --enable), so that a handler for %s executables is registered with the F flag", dir, arch)
}

// checkBinfmt checks that the kernel can run an executable that starts with
// header (the guest's /bin/sh, of architecture arch) from inside root: an
// enabled binfmt_misc handler whose magic and mask match it, and whose
// interpreter the kernel can open (opened at registration with the F flag,
// else looked up inside the chroot). What matches is decided by the kernel's
// own rule, not by the interpreter's name, which distributions choose
// (Debian 12: /usr/libexec/qemu-binfmt/aarch64-binfmt-P).
func checkBinfmt(dir, root string, header []byte, arch string) error {
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return fmt.Errorf("binfmt_misc is not mounted at %s: %s", dir, binfmtFix(dir, arch))
	}
	if !bytes.HasPrefix(status, []byte("enabled")) {
		return fmt.Errorf("binfmt_misc is disabled (%s/status): enable it with 'echo 1 > %s/status'", dir, dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	var problems []error
	for _, e := range entries {
		if e.Name() == "status" || e.Name() == "register" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		h, ok := parseBinfmtHandler(e.Name(), b)
		if err != nil || !ok || !h.matches(header) {
			continue
		}
		if err := h.usableFrom(root); err != nil {
			problems = append(problems, err)
			continue
		}
		return nil
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	return fmt.Errorf("no binfmt_misc handler in %s matches %s executables: %s", dir, arch, binfmtFix(dir, arch))
}

// usableFrom says why the kernel could not run the handler's interpreter for
// a process chrooted into root.
func (h binfmtHandler) usableFrom(root string) error {
	switch {
	case !h.enabled:
		return fmt.Errorf("the binfmt_misc handler %s matches but is disabled: enable it (update-binfmts --enable %s)", h.name, h.name)
	case strings.Contains(h.flags, "F"):
		return nil // the kernel opened the interpreter when it was registered
	}
	if rel, err := resolveInRoot(root, h.interpreter, true); err == nil {
		if _, err := os.Stat(filepath.Join(root, rel)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("the binfmt_misc handler %s has no F flag and its interpreter %s is not in the image: copy it into the image or register the handler with the F flag", h.name, h.interpreter)
}
