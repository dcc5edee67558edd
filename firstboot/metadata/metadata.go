// Package metadata reads user-data and network_data.json from the OpenStack metadata service, the
// helper's last user-data source: http://169.254.169.254 and http://[fe80::a9fe:a9fe%iface].
//
// Ask retries until the service answers or ctx ends: at boot the helper often asks before the
// guest's network stack has added the route to 169.254.169.254 (dhclient-script adds it after
// the address) or before the link-local address is past DAD, and such a failed connect is not
// an answer. A 200 is, and so is Nova's 404 ("this instance has no user-data").
//
// Requests go through net/http with one socket per request, bounded in every step: connect,
// response head (size and time), body (MaxSize). Sockets are opened on the calling goroutine,
// so a caller whose thread is in another network namespace asks that namespace.
package metadata

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Where OpenStack serves an instance's user-data and its network description.
const (
	Path            = "/openstack/latest/user_data"
	NetworkDataPath = "/openstack/latest/network_data.json"
)

// MaxSize bounds the user-data accepted: OpenStack refuses more than 65535 bytes, plus slack for
// services that are less strict. network_data.json is bounded the same way.
const MaxSize = 64<<10 + 4<<10

// The metadata service's addresses.
var (
	AddrV4 = netip.MustParseAddr("169.254.169.254")
	AddrV6 = netip.MustParseAddr("fe80::a9fe:a9fe")
)

// Retry pacing: after a failed attempt the next one waits a backoff that doubles from
// firstBackoff to maxBackoff, unless an address or route changes first.
const (
	firstBackoff = 20 * time.Millisecond
	maxBackoff   = 500 * time.Millisecond
)

// Answer is what the service said.
type Answer struct {
	// UserData is the instance's user-data; nil when NoUserData.
	UserData []byte
	// NoUserData is Nova's 404 for the user-data: the instance has none.
	NoUserData bool
	// NetworkData is network_data.json as served, nil when the service did not give it.
	NetworkData []byte
	// NetworkDataErr says why NetworkData is nil.
	NetworkDataErr error
	// Source is the URL of the user-data that answered.
	Source string
	// Attempts counts the requests for the user-data, over both addresses.
	Attempts int
}

// finalError is a bad answer that retrying cannot improve (a body over the limit).
type finalError struct{ error }

// Ask gets the user-data from the metadata service, over IPv4 and, when ifname is set, over IPv6
// link-local on ifname, both at once; the first answer wins. A failed attempt (no route, address
// not usable yet, refused, an HTTP error other than 404) is retried after a short backoff, or at
// once when changes carries a value (an address or route changed; nil: none). When no address
// answers before ctx ends, the error says why for each.
func Ask(ctx context.Context, ifname string, changes <-chan struct{}) (Answer, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ts, errs := targets(ifname)
	r := retrier{ctx: ctx, ts: ts, st: make([]targetState, len(ts)), results: make(chan result, len(ts))}
	ans, err, ok := r.run(changes)
	if ok {
		return ans, err
	}
	for i, t := range ts {
		if e := r.st[i].last; e != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.url(Path), e))
		}
	}
	errs = append(errs, ctx.Err())
	return Answer{Attempts: r.attempts}, fmt.Errorf("metadata: no answer after %d attempts: %w", r.attempts, errors.Join(errs...))
}

// targets lists the service's addresses to ask; an interface that cannot be found is an error
// for its address only. IPv6 link-local is bound to the interface by its zone; IPv4 is left to
// the routing table, since on a guest with several ports the route to 169.254.169.254 may go
// through another port than the one Clearwater uses.
func targets(ifname string) ([]target, []error) {
	ts := []target{{addr: netip.AddrPortFrom(AddrV4, 80)}}
	if ifname == "" {
		return ts, nil
	}
	t := target{addr: netip.AddrPortFrom(AddrV6.WithZone(ifname), 80)}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return ts, []error{fmt.Errorf("%s: %w", t.url(Path), err)}
	}
	t.ifindex = ifi.Index
	return append(ts, t), nil
}

// retrier runs the attempts of one Ask: at most one in flight per address.
type retrier struct {
	ctx      context.Context
	ts       []target
	st       []targetState
	results  chan result
	attempts int
}

type targetState struct {
	inFlight bool
	changed  bool // an address or route changed while the attempt was in flight
	next     time.Time
	backoff  time.Duration
	last     error
}

type result struct {
	i   int
	ans Answer
	err error
}

// run starts due attempts and waits for one of: a result, a change, the next due time, the end.
// ok is false when ctx ended first.
func (r *retrier) run(changes <-chan struct{}) (Answer, error, bool) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(r.startDue())
		select {
		case res := <-r.results:
			s := &r.st[res.i]
			s.inFlight = false
			var final finalError
			if res.err == nil || errors.As(res.err, &final) {
				res.ans.Attempts = r.attempts
				return res.ans, final.error, true
			}
			s.last = res.err
			s.backoff = min(max(2*s.backoff, firstBackoff), maxBackoff)
			s.next = time.Now().Add(s.backoff)
			if s.changed {
				s.next, s.changed = time.Time{}, false
			}
		case <-changes:
			for i := range r.st {
				r.st[i].next, r.st[i].changed = time.Time{}, r.st[i].inFlight
			}
		case <-timer.C:
		case <-r.ctx.Done():
			return Answer{}, nil, false
		}
	}
}

// startDue starts an attempt for every address that is due and idle, opening its sockets here,
// on the caller's goroutine. It returns the time until the next address is due.
func (r *retrier) startDue() time.Duration {
	now, wait := time.Now(), time.Hour
	for i, t := range r.ts {
		s := &r.st[i]
		if s.inFlight {
			continue
		}
		if d := s.next.Sub(now); d > 0 {
			wait = min(wait, d)
			continue
		}
		r.attempts++
		s.inFlight = true
		c, err := openPair(t)
		if err != nil {
			r.results <- result{i: i, err: err}
			continue
		}
		go func() {
			ans, err := attempt(r.ctx, c, t)
			r.results <- result{i, ans, err}
		}()
	}
	return wait
}

// attempt asks one address for the user-data and, once it answered, for network_data.json.
func attempt(ctx context.Context, c [2]*net.TCPConn, t target) (Answer, error) {
	defer c[1].Close()
	ans := Answer{Source: t.url(Path)}
	body, code, err := get(ctx, c[0], t, Path)
	switch {
	case err != nil:
		return ans, err
	case code == 404:
		ans.NoUserData = true
	case code == 200:
		ans.UserData = body
	default:
		return ans, fmt.Errorf("HTTP %d", code)
	}
	nd, code, err := get(ctx, c[1], t, NetworkDataPath)
	switch {
	case err != nil:
		ans.NetworkDataErr = err
	case code != 200:
		ans.NetworkDataErr = fmt.Errorf("%s: HTTP %d", t.url(NetworkDataPath), code)
	default:
		ans.NetworkData = nd
	}
	return ans, nil
}

// target is one address of the metadata service.
type target struct {
	addr    netip.AddrPort // with the interface as zone for IPv6
	ifindex int            // for IPv6 link-local
}

// url names a path on the target in sources and errors: http://169.254.169.254/... or
// http://[fe80::a9fe:a9fe%eth0]/... (the port is always 80).
func (t target) url(path string) string {
	a := t.addr.Addr()
	if a.Is6() {
		return "http://[" + a.String() + "]" + path
	}
	return "http://" + a.String() + path
}
