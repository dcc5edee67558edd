package tether

import "syscall"

// setDeathSignal has the kernel kill the child when the thread that forked it ends.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
