package chroot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWithHostLockSerialises(t *testing.T) {
	var inside, maxInside int32
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := withHostLock(context.Background(), func() error {
				n := atomic.AddInt32(&inside, 1)
				for {
					m := atomic.LoadInt32(&maxInside)
					if n <= m || atomic.CompareAndSwapInt32(&maxInside, m, n) {
						break
					}
				}
				time.Sleep(20 * time.Millisecond)
				atomic.AddInt32(&inside, -1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if maxInside != 1 {
		t.Errorf("%d holders at once", maxInside)
	}
}

func TestWithHostLockHonoursContext(t *testing.T) {
	held := make(chan struct{})
	release := make(chan struct{})
	go withHostLock(context.Background(), func() error { close(held); <-release; return nil })
	<-held
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := withHostLock(ctx, func() error { return nil }); err == nil {
		t.Fatal("got the lock while it was held")
	}
}

// useLockFile makes withHostLock fall back to the lock file p for the test.
func useLockFile(t *testing.T, p string) {
	t.Helper()
	old := hostLockPaths
	hostLockPaths = []string{filepath.Join(t.TempDir(), "no-loop-control"), p}
	t.Cleanup(func() { hostLockPaths = old })
}

func TestHostLockFileIsOneFixedPath(t *testing.T) {
	if p := hostLockPaths[1]; strings.HasPrefix(p, os.TempDir()) || strings.HasPrefix(p, "/tmp/") {
		t.Errorf("lock file %s depends on TMPDIR or sits in a folder anyone may write", p)
	}
}

func TestHostLockFileRefusesAPlantedOne(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("root's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(other, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(dir, "loose")
	if err := os.WriteFile(loose, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o666); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, other, loose} {
		useLockFile(t, p)
		ran := false
		if err := withHostLock(context.Background(), func() error { ran = true; return nil }); err == nil || ran {
			t.Errorf("%s: withHostLock ran=%v, err=%v; want a refusal", filepath.Base(p), ran, err)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "root's\n" {
		t.Errorf("victim changed: %q", b)
	}
	good := filepath.Join(dir, "good")
	useLockFile(t, good)
	if err := withHostLock(context.Background(), func() error { return nil }); err != nil {
		t.Errorf("a fresh lock file: %v", err)
	}
}
