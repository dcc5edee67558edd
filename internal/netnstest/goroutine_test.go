package netnstest

import (
	"fmt"
	"sync"
	"testing"
)

// recorder is a testing.TB that records the failures asked of it instead of failing.
type recorder struct {
	testing.TB
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string)              { r.mu.Lock(); r.calls = append(r.calls, s); r.mu.Unlock() }
func (r *recorder) Error(args ...any)         { r.add("Error " + fmt.Sprint(args...)) }
func (r *recorder) Errorf(f string, a ...any) { r.add("Errorf " + fmt.Sprintf(f, a...)) }
func (r *recorder) Fail()                     { r.add("Fail") }
func (r *recorder) FailNow()                  { r.add("FailNow") }
func (r *recorder) Fatal(args ...any)         { r.add("Fatal") }
func (r *recorder) Fatalf(f string, a ...any) { r.add("Fatalf") }
func (r *recorder) Helper()                   {}

// A Fatal through OffGoroutine records an error and ends the calling goroutine only, never
// calling the test's FailNow (which must run on the test goroutine).
func TestOffGoroutine(t *testing.T) {
	for name, fail := range map[string]func(testing.TB){
		"Fatal":   func(tb testing.TB) { tb.Fatal("boom") },
		"Fatalf":  func(tb testing.TB) { tb.Fatalf("boom %d", 1) },
		"FailNow": func(tb testing.TB) { tb.FailNow() },
	} {
		rec := &recorder{TB: t}
		reached := false
		done := make(chan struct{})
		go func() {
			defer close(done)
			fail(OffGoroutine(rec))
			reached = true
		}()
		<-done
		if reached || len(rec.calls) != 1 || rec.calls[0] == "Fatal" || rec.calls[0] == "Fatalf" || rec.calls[0] == "FailNow" {
			t.Errorf("%s: went on %v, calls %q; want one Error/Errorf/Fail and the goroutine ended", name, reached, rec.calls)
		}
	}
}
