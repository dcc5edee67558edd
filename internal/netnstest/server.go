package netnstest

import (
	"sync"
	"time"
)

// Hostile is a way a test server misbehaves. A server sends one reply per configured mode, in
// order, before its valid reply (if it has one).
type Hostile string

// The hostile modes. Not every server knows every mode; see each server's doc.
const (
	Malformed   Hostile = "malformed"    // bytes that do not parse as the protocol's message
	WrongXID    Hostile = "wrong-xid"    // a valid-looking reply with another transaction ID
	WrongClient Hostile = "wrong-client" // a reply addressed to another client (chaddr / client ID)
	Loopback    Hostile = "loopback"     // offers 127.0.0.1 / ::1
	Multicast   Hostile = "multicast"    // offers 224.0.0.1 / ff02::1
	LinkLocal   Hostile = "link-local"   // offers 169.254.1.1 / fe80::1
	Unspecified Hostile = "unspecified"  // offers 0.0.0.0 / ::
	Broadcast   Hostile = "broadcast"    // offers 255.255.255.255 (DHCPv4 only)
	ClassE      Hostile = "class-e"      // offers 240.0.0.1 (DHCPv4 only)
	BadPrefix   Hostile = "bad-prefix"   // DHCPv4: non-contiguous netmask; RA: autonomous /48
	Mapped      Hostile = "v4-mapped"    // offers ::ffff:192.0.2.1 (DHCPv6 and RA only)
)

// HostileV4 lists every mode the DHCPv4 server knows.
var HostileV4 = []Hostile{Malformed, WrongXID, WrongClient, Loopback, Multicast, LinkLocal,
	Unspecified, Broadcast, ClassE, BadPrefix}

// HostileV6 lists every mode the DHCPv6 server knows.
var HostileV6 = []Hostile{Malformed, WrongXID, WrongClient, Loopback, Multicast, LinkLocal,
	Unspecified, Mapped}

// HostileRA lists every mode the router-advertisement sender knows.
var HostileRA = []Hostile{Malformed, Loopback, Multicast, LinkLocal, Unspecified, BadPrefix, Mapped}

// lifecycle lets a server's handlers (which run on their own goroutines) end before Stop
// returns, and lets delays end early when the server stops.
type lifecycle struct {
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
	stop    chan struct{}
	served  chan struct{} // closed when the serve loop returns

	seenMu sync.Mutex
	seen   []string
}

func newLifecycle() *lifecycle {
	return &lifecycle{stop: make(chan struct{}), served: make(chan struct{})}
}

// enter registers a handler; it reports false once the server is stopping.
func (l *lifecycle) enter() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	l.wg.Add(1)
	return true
}

func (l *lifecycle) leave() { l.wg.Done() }

// sleep waits d, and reports false when the server stopped meanwhile.
func (l *lifecycle) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.stop:
		return false
	}
}

// shutdown stops new handlers, closes the socket, and waits (bounded) for the serve loop and
// the handlers to end. It may be called more than once.
func (l *lifecycle) shutdown(closeConn func() error) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	close(l.stop)
	l.mu.Unlock()
	_ = closeConn()
	select {
	case <-l.served:
	case <-time.After(5 * time.Second):
	}
	l.wg.Wait()
}

// note records a message the server received.
func (l *lifecycle) note(s string) {
	l.seenMu.Lock()
	defer l.seenMu.Unlock()
	l.seen = append(l.seen, s)
}

// Seen returns the types of the messages the server received, in order (e.g. "DISCOVER",
// "SOLICIT", "RS").
func (l *lifecycle) Seen() []string {
	l.seenMu.Lock()
	defer l.seenMu.Unlock()
	return append([]string(nil), l.seen...)
}
