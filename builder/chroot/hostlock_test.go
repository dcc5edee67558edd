package chroot

import (
	"context"
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
