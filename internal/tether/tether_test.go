package tether

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// child is the test binary re-run as the "test process" that starts a daemon and then dies.
const child = "TETHER_TEST_CHILD"

// TestMain runs the child's part: start sleep from a goroutine whose locked thread then ends
// (as netnstest's setns goroutines do), print its PID, check it outlived that thread, and exit.
func TestMain(m *testing.M) {
	if os.Getenv(child) == "" {
		os.Exit(m.Run())
	}
	// The main thread never ends (Go parks it instead): keep the goroutine below off it.
	runtime.LockOSThread()
	cmd := exec.Command("sleep", "120")
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		errc <- Start(cmd)
	}()
	if err := <-errc; err != nil {
		fmt.Println("start:", err)
		os.Exit(2)
	}
	time.Sleep(300 * time.Millisecond)
	if gone(cmd.Process.Pid) {
		fmt.Println("sleep died with the thread that started it")
		os.Exit(3)
	}
	fmt.Println(cmd.Process.Pid)
	os.Exit(0)
}

// A daemon started through Start dies with the process that started it, not with the thread.
func TestDaemonDiesWithTheProcess(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), child+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	line, _ := bufio.NewReader(strings.NewReader(string(out))).ReadString('\n')
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("child printed %q", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("sleep (pid %d) outlived the process that started it by 5s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gone reports whether pid has ended: no such process, or a zombie (killed, not yet reaped).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] == "Z"
}
