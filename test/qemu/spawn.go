package qemu

import (
	"runtime"
	"sync"
)

var (
	spawnOnce sync.Once
	spawnReqs = make(chan func())
)

// spawn runs start (an exec.Cmd's Start) on one OS thread that lives as long as the test
// process. The kernel sends a child its Pdeathsig when the thread that forked it exits, and Go
// ends a thread whenever a goroutine exits while locked to it, as netnstest's setns goroutines
// do: a guest started from such a thread would be killed while another test sets up its lab.
func spawn(start func() error) error {
	spawnOnce.Do(func() {
		go func() {
			runtime.LockOSThread() // never unlocked: no other goroutine runs on this thread, and it never ends
			for f := range spawnReqs {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	spawnReqs <- func() { errc <- start() }
	return <-errc
}
