package netnstest

import (
	"runtime"
	"testing"
)

// offGoroutine is a testing.TB for a goroutine other than the test's own, where FailNow (and so
// Fatal) must not be called: it records the failure with Errorf and ends only that goroutine.
type offGoroutine struct{ testing.TB }

// OffGoroutine returns t for use on a goroutine that the test started (a helper that starts a
// daemon mid-boot, say): a Fatal there marks t failed and ends that goroutine, so its deferred
// calls run and the test goroutine, which waits for it, goes on to report.
func OffGoroutine(t testing.TB) testing.TB { return offGoroutine{t} }

func (o offGoroutine) FailNow() { o.TB.Fail(); runtime.Goexit() }

func (o offGoroutine) Fatal(args ...any) { o.TB.Helper(); o.TB.Error(args...); runtime.Goexit() }

func (o offGoroutine) Fatalf(format string, args ...any) {
	o.TB.Helper()
	o.TB.Errorf(format, args...)
	runtime.Goexit()
}
