//go:build !linux

package tether

import "syscall"

// setDeathSignal does nothing where the kernel has no parent-death signal (the plugin compiles
// for every release system; clearwater-verify, its one user outside the tests, runs on Linux).
func setDeathSignal(*syscall.SysProcAttr) {}
