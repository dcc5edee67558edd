package chroot

import (
	"fmt"
	"os"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// resolveInRoot resolves p the way a process chrooted into root would see
// it (rootfs.Resolve): ".." stops at the root and absolute symlinks start
// again from the root, so the result never leaves it. It returns a path
// relative to root (for os.Root) with no symlink in its directories; with
// followFinal a symlink in the last component is resolved too. Missing
// components are kept as they are, so the result can name a file to create.
func resolveInRoot(root, p string, followFinal bool) (string, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return "", err
	}
	defer r.Close()
	resolve := rootfs.ResolveParent
	if followFinal {
		resolve = rootfs.Resolve
	}
	rel, err := resolve(r, p)
	if err != nil {
		return "", fmt.Errorf("resolving %s in %s: %w", p, root, err)
	}
	return rel, nil
}
