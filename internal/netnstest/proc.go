package netnstest

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/tether"
)

// Exec runs a command inside the namespace (ip netns exec) and returns its combined output. ctx
// bounds it; without a deadline it gets 10 s.
func (ns *NS) Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmdTimeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
	return cmd.CombinedOutput()
}

// Proc is a background process running inside a namespace.
type Proc struct {
	Cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
	err  error // set before done closes
}

// Start runs a command inside the namespace in the background. When the test ends, the process
// (and only it: ip netns exec execs the command, so the PID is the command's) is killed and
// waited for.
func (ns *NS) Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{done: make(chan struct{})}
	p.Cmd = exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
	p.Cmd.Stdout = &p.out
	p.Cmd.Stderr = &p.out
	// Its own process group, so a ^C to the test does not reach it before the cleanup does; and
	// tethered, so that a test killed before its cleanup does not leave it running.
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := tether.Start(p.Cmd); err != nil {
		t.Fatalf("netnstest: start %s in %s: %v", name, ns.Name, err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.Stop() })
	return p
}

// Stop kills the process by its PID and waits up to 5 s for it to exit. It may be called more
// than once.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
		_ = p.Cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
		}
	}
}

// Exited reports whether the process has ended, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Output returns what the process has written to stdout and stderr so far.
func (p *Proc) Output() string { return p.out.String() }

// WaitOutput waits up to timeout for the process's output to contain s.
func (p *Proc) WaitOutput(s string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.Output(), s) {
		if exited, err := p.Exited(); exited {
			return errors.Join(errors.New("netnstest: process exited before printing "+strconv.Quote(s)+": "+p.Output()), err)
		}
		if time.Now().After(deadline) {
			return errors.New("netnstest: no " + strconv.Quote(s) + " in output after " + timeout.String() + ": " + p.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// lockedBuffer is a bytes.Buffer safe for a writer and readers at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
