// Package metadata reads user-data from the OpenStack metadata service, the helper's last
// user-data source: http://169.254.169.254 and http://[fe80::a9fe:a9fe%iface], asked at once.
//
// It speaks just enough HTTP/1.1 for one GET (net/http would double the helper's size), and
// bounds everything: time by ctx, the answer by MaxSize. Sockets are opened on the calling
// goroutine, so a caller whose thread is in another network namespace asks that namespace.
package metadata

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Path is where OpenStack serves an instance's user-data.
const Path = "/openstack/latest/user_data"

// MaxSize bounds the user-data accepted: OpenStack refuses more than 65535 bytes, plus slack for
// services that are less strict.
const MaxSize = 64<<10 + 4<<10

// ErrNoUserData means the metadata service answered 404: the instance has no user-data. It is an
// answer, not a failure to retry.
var ErrNoUserData = errors.New("metadata: the instance has no user-data (HTTP 404)")

// The metadata service's addresses.
var (
	AddrV4 = netip.MustParseAddr("169.254.169.254")
	AddrV6 = netip.MustParseAddr("fe80::a9fe:a9fe")
)

// Fetch gets the user-data from the metadata service, over IPv4 and, when ifname is set, over
// IPv6 link-local on ifname, in parallel. The first answer wins: the user-data (with the URL it
// came from as source), or ErrNoUserData (a 404 is the service's answer too). When neither
// answers before ctx ends, the error lists why for each address.
func Fetch(ctx context.Context, ifname string) (data []byte, source string, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	targets := []target{{addr: netip.AddrPortFrom(AddrV4, 80)}}
	var errs []error
	if ifname != "" {
		t := target{addr: netip.AddrPortFrom(AddrV6.WithZone(ifname), 80)}
		if ifi, err := net.InterfaceByName(ifname); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.url(), err))
		} else {
			t.ifindex = ifi.Index
			targets = append(targets, t)
		}
	}
	type answer struct {
		t    target
		data []byte
		err  error
	}
	answers := make(chan answer, len(targets))
	asked := 0
	for _, t := range targets {
		// The socket is made here, on the caller's goroutine; only the exchange runs apart.
		c, err := open(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.url(), err))
			continue
		}
		asked++
		go func() {
			data, err := get(ctx, c, t)
			answers <- answer{t, data, err}
		}()
	}
	for range asked {
		a := <-answers
		if a.err == nil || errors.Is(a.err, ErrNoUserData) {
			cancel()
			return a.data, a.t.url(), a.err
		}
		errs = append(errs, fmt.Errorf("%s: %w", a.t.url(), a.err))
	}
	return nil, "", fmt.Errorf("metadata: no answer: %w", errors.Join(errs...))
}

// target is one address of the metadata service.
type target struct {
	addr    netip.AddrPort // with the interface as zone for IPv6
	ifindex int            // for IPv6 link-local
}

// url names the target in sources and errors: http://169.254.169.254/... or
// http://[fe80::a9fe:a9fe%eth0]/... (the port is always 80).
func (t target) url() string {
	a := t.addr.Addr()
	if a.Is6() {
		return "http://[" + a.String() + "]" + Path
	}
	return "http://" + a.String() + Path
}

// host is the Host header: the address without the zone (RFC 6874 zones are not sent).
func (t target) host() string {
	a := t.addr.Addr().WithZone("")
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}
