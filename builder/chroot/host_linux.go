package chroot

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// tryLock takes an exclusive flock on f without waiting; busy reports that
// another process holds it.
func tryLock(f *os.File) (busy bool, err error) {
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}

// openLockFile opens (creating it if need be) the lock file at p without
// following a symlink there, and refuses a file that is not a regular file
// of this process's user that only that user may write: such a file was put
// there by someone else, who could hold its lock for ever.
func openLockFile(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file of uid %d writable only by it (mode %v): "+
			"remove it and run the build again", p, os.Geteuid(), fi.Mode())
	}
	return f, nil
}

// unlock releases tryLock's flock.
func unlock(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// ownProcessGroup starts cmd in a process group of its own, which a cancel
// kills as a whole: that reaches the command's children too, and keeps a
// terminal's Ctrl-C away from them.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
