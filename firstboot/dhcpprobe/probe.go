// Package dhcpprobe asks the network what it offers on one interface (a DHCPv4 offer, a DHCPv6
// advertise, router advertisements) without configuring anything: it never requests a lease.
//
// The helper probes when the family it needs has no address, to tell "the network offers none"
// from "the image did not ask for it". Every reply is validated; hostile or broken ones are
// listed in Result.Ignored with the reason, never offered.
//
// Probes open their sockets on the calling goroutine, so a caller whose thread is in another
// network namespace probes that namespace. They never block past ctx, and without a deadline on
// ctx they stop after DefaultTimeout. They never read crypto/rand, which blocks at early boot
// until the kernel's random pool is ready.
package dhcpprobe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultTimeout bounds a probe whose ctx has no deadline.
const DefaultTimeout = 5 * time.Second

// The kinds of Offer.
const (
	KindDHCPv4 = "dhcpv4" // a DHCPv4 OFFER
	KindDHCPv6 = "dhcpv6" // a DHCPv6 ADVERTISE (or a rapid-commit REPLY)
	KindSLAAC  = "slaac"  // an autonomous /64 prefix in a router advertisement
	KindRA     = "ra"     // a router advertisement with the M or O flag
)

// Offer is one thing the network offered.
type Offer struct {
	Kind    string       // KindDHCPv4, KindDHCPv6, KindSLAAC or KindRA
	Address netip.Prefix // dhcpv4: address/mask; dhcpv6: address/128; slaac: the prefix; ra: invalid
	Server  netip.Addr   // the DHCP server or the router that offered it
	Managed bool         // ra, slaac: the M flag (addresses from DHCPv6)
	Other   bool         // ra, slaac: the O flag (other configuration from DHCPv6)
	Detail  string       // lifetimes, router, DNS, and anything unusual
}

// Result is what a probe found on one interface.
type Result struct {
	Interface string
	Offers    []Offer
	Ignored   []string // replies that were invalid or hostile, each with the reason
	Errors    []string // what kept the probe from asking or listening
	Notes     []string // how the probe ran, e.g. how it made transaction IDs
}

// Offered reports whether the network offered anything usable.
func (r Result) Offered() bool { return len(r.Offers) > 0 }

// String summarizes the result in one line, for logs and the status file.
func (r Result) String() string {
	if !r.Offered() {
		s := r.Interface + ": nothing offered"
		if len(r.Errors) > 0 {
			s += " (errors: " + strings.Join(r.Errors, "; ") + ")"
		}
		return s
	}
	var parts []string
	for _, o := range r.Offers {
		p := o.Kind
		if o.Address.IsValid() {
			p += " " + o.Address.String()
		}
		if o.Managed || o.Other {
			p += fmt.Sprintf(" (M=%t O=%t)", o.Managed, o.Other)
		}
		parts = append(parts, p+" from "+o.Server.String())
	}
	return r.Interface + ": offered " + strings.Join(parts, "; ")
}

// maxIgnored bounds Result.Ignored, so that a flood of bad packets cannot grow it without end.
const maxIgnored = 32

// maxPackets bounds the replies one probe reads.
const maxPackets = 1000

func (r *Result) ignore(format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	for _, have := range r.Ignored {
		if have == s {
			return
		}
	}
	switch {
	case len(r.Ignored) < maxIgnored:
		r.Ignored = append(r.Ignored, s)
	case len(r.Ignored) == maxIgnored:
		r.Ignored = append(r.Ignored, "more ignored replies not listed")
	}
}

func (r *Result) errorf(format string, a ...any) {
	r.Errors = append(r.Errors, fmt.Sprintf(format, a...))
}

// bounded returns ctx with DefaultTimeout when it has no deadline.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultTimeout)
}

// getrandom is unix.Getrandom; tests replace it to act out a kernel whose pool is not ready.
var getrandom = unix.Getrandom

// transactionID returns n bytes for a transaction ID without ever blocking. When the kernel's
// random pool is not ready yet (early boot), it falls back to GRND_INSECURE, then to a hash of
// the clock, PID and MAC; the note says so (empty when the IDs are properly random). A
// transaction ID only has to be unlikely to collide with another client's on the link.
func transactionID(n int, mac net.HardwareAddr) ([]byte, string) {
	b := make([]byte, n)
	got, err := getrandom(b, unix.GRND_NONBLOCK)
	if err == nil && got == n {
		return b, ""
	}
	if !errors.Is(err, unix.EAGAIN) && err != nil {
		return fallbackID(n, mac), fmt.Sprintf("getrandom failed (%v): transaction IDs from clock, PID and MAC", err)
	}
	note := "kernel random pool not ready (getrandom would block)"
	if got, err := getrandom(b, unix.GRND_INSECURE); err == nil && got == n {
		return b, note + ": transaction IDs from getrandom(GRND_INSECURE)"
	}
	return fallbackID(n, mac), note + ": transaction IDs from clock, PID and MAC"
}

// fallbackID hashes the clock, the PID and the MAC.
func fallbackID(n int, mac net.HardwareAddr) []byte {
	h := fnv.New64a()
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(time.Now().UnixNano()))
	binary.BigEndian.PutUint64(buf[8:], uint64(os.Getpid()))
	h.Write(buf[:])
	h.Write(mac)
	sum := h.Sum(nil)
	return sum[:n]
}

// deadline returns the earlier of ctx's deadline and t.
func deadline(ctx context.Context, t time.Time) time.Time {
	if d, ok := ctx.Deadline(); ok && d.Before(t) {
		return d
	}
	return t
}

// isTimeout reports a read that ended at its deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// addOffer adds o unless the same offer is already listed (servers answer every resend).
func (r *Result) addOffer(o Offer) {
	for _, have := range r.Offers {
		if have.Kind == o.Kind && have.Address == o.Address && have.Server == o.Server {
			return
		}
	}
	r.Offers = append(r.Offers, o)
}

// merge adds what another probe found.
func (r *Result) merge(o Result) {
	for _, of := range o.Offers {
		r.addOffer(of)
	}
	for _, s := range o.Ignored {
		r.ignore("%s", s)
	}
	r.Errors = append(r.Errors, o.Errors...)
	r.Notes = append(r.Notes, o.Notes...)
}

// conversation is one probe's request-and-replies loop on a socket, paced the same for every
// probe: a request now and again after 1, 2 and 4 s (at most maxSends), until ctx ends, grace has
// passed since the first valid reply, or maxPackets packets were read.
type conversation struct {
	kind string // for messages: "dhcpv4", "dhcpv6", "ra"
	// retry makes a failed send a reason to try again after retryFailed (at most maxFailures
	// times) rather than the end of the conversation.
	retry           bool
	send            func() error
	setReadDeadline func(time.Time) error
	// receive reads and handles one packet; valid reports a valid reply.
	receive func() (valid bool, err error)
}

// run holds the conversation and records what kept it from asking or listening in res.
func (c conversation) run(ctx context.Context, res *Result) {
	end, _ := ctx.Deadline() // see bounded
	next, interval, sends, failures := time.Now(), time.Second, 0, 0
	var found time.Time
	for packets := 0; packets < maxPackets; {
		now := time.Now()
		if ctx.Err() != nil || !now.Before(end) || (!found.IsZero() && !now.Before(found.Add(grace))) {
			return
		}
		sending := sends < maxSends && failures < maxFailures
		if sending && !now.Before(next) {
			if err := c.send(); err == nil {
				sends++
				next, interval = now.Add(interval), interval*2
			} else if c.retry {
				failures++
				next = now.Add(retryFailed)
			} else {
				res.errorf("%s: %v", c.kind, err)
				return
			}
		}
		wake := end
		if sending {
			wake = next
		}
		if !found.IsZero() && found.Add(grace).Before(wake) {
			wake = found.Add(grace)
		}
		_ = c.setReadDeadline(deadline(ctx, wake))
		valid, err := c.receive()
		if err != nil {
			if isTimeout(err) || ctx.Err() != nil {
				continue
			}
			res.errorf("%s: receive: %v", c.kind, err)
			return
		}
		packets++
		if valid && found.IsZero() {
			found = time.Now()
		}
	}
	res.errorf("%s: stopped after %d packets", c.kind, maxPackets)
}

// exchange is a DHCP conversation on a datagram socket.
type exchange struct {
	ctx  context.Context // has a deadline (see bounded)
	res  *Result
	kind string // for messages: "dhcpv4", "dhcpv6"
	conn net.PacketConn
	dst  net.Addr
}

// run sends the message that msg builds, as a conversation does, and validates every reply (a
// reply may carry offers and a reason to ignore part of it).
func (x *exchange) run(msg func() []byte, validate func([]byte, net.Addr) ([]Offer, string)) {
	buf := make([]byte, 65536)
	conversation{kind: x.kind,
		send: func() error {
			if _, err := x.conn.WriteTo(msg(), x.dst); err != nil {
				return fmt.Errorf("send to %s: %w", x.dst, err)
			}
			return nil
		},
		setReadDeadline: x.conn.SetReadDeadline,
		receive: func() (bool, error) {
			n, src, err := x.conn.ReadFrom(buf)
			if err != nil {
				return false, err
			}
			offers, reason := validate(buf[:n], src)
			if reason != "" {
				x.res.ignore("%s reply from %s: %s", x.kind, src, reason)
			}
			for _, o := range offers {
				x.res.addOffer(o)
			}
			return len(offers) > 0, nil
		},
	}.run(x.ctx, x.res)
}
