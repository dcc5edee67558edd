// Package tether starts child daemons (the tests' QEMU, dnsmasq, radvd; clearwater-verify's QEMU)
// so that they die with the process that started them: a test or a plugin killed mid-run, by a
// timeout or ^C, leaves none of them behind.
package tether

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

var (
	once sync.Once
	reqs = make(chan func())
)

// Start starts cmd with the parent-death signal SIGKILL, keeping the rest of its SysProcAttr.
//
// The kernel sends a child its parent-death signal when the thread that forked it exits, not
// the process, and Go ends a thread whenever a goroutine exits while locked to it, as
// netnstest's setns goroutines do. So every child is forked from one OS thread that lives as
// long as the test process: a daemon started from another thread could be killed while a test
// sets up its lab.
func Start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	setDeathSignal(cmd.SysProcAttr)
	once.Do(func() {
		go func() {
			runtime.LockOSThread() // never unlocked: no other goroutine runs on this thread, and it never ends
			for f := range reqs {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	reqs <- func() { errc <- cmd.Start() }
	return <-errc
}
