package metadata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds on each request besides ctx: a connect that gets no reply is given up (and retried) after
// connectTimeout; a server that accepted must send its head within headTimeout, of at most
// maxHead bytes.
const (
	connectTimeout = time.Second
	headTimeout    = 2 * time.Second
	maxHead        = 16 << 10
)

// openPair makes the two unconnected TCP sockets of one attempt (user-data, then
// network_data.json) on the calling goroutine's thread, so in its network namespace.
func openPair(t target) ([2]*net.TCPConn, error) {
	a, err := open(t)
	if err != nil {
		return [2]*net.TCPConn{}, err
	}
	b, err := open(t)
	if err != nil {
		a.Close()
		return [2]*net.TCPConn{}, err
	}
	return [2]*net.TCPConn{a, b}, nil
}

// open makes an unconnected TCP socket for t and hands it to the runtime's poller.
func open(t target) (*net.TCPConn, error) {
	family := unix.AF_INET
	if t.addr.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "metadata")
	defer f.Close() // FileConn keeps its own copy of the descriptor
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("socket: not TCP (%T)", c)
	}
	return tc, nil
}

// get sends GET path over c (connected here to t) and returns the body of a 200 (at most
// MaxSize bytes: more is a finalError) or the status code alone. It closes c.
func get(ctx context.Context, c *net.TCPConn, t target, path string) ([]byte, int, error) {
	var claimed atomic.Bool // by the dial, or by the cleanup after a RoundTrip that never dialed
	tr := &http.Transport{
		// The Transport dials on a goroutine of its own, whose thread may be in another namespace:
		// it is handed the socket opened on the caller's, and connects that one only.
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			if !claimed.CompareAndSwap(false, true) {
				return nil, errors.New("one connection per request")
			}
			if err := connect(ctx, c, t); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		ResponseHeaderTimeout:  headTimeout,
		MaxResponseHeaderBytes: maxHead,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.requestURL(path), nil)
	if err != nil {
		c.Close()
		return nil, 0, err
	}
	req.Header.Set("User-Agent", "clearwater-firstboot")
	resp, err := tr.RoundTrip(req) // not a Client: a metadata service does not redirect
	if claimed.CompareAndSwap(false, true) {
		c.Close()
	}
	if err != nil {
		return nil, 0, unwrapURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, nil
	}
	if resp.ContentLength > MaxSize {
		return nil, 0, finalError{fmt.Errorf("%s: %d bytes is over the %d-byte limit", path, resp.ContentLength, MaxSize)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxSize+1))
	switch {
	case err != nil:
		return nil, 0, fmt.Errorf("reading the body: %w", err)
	case len(body) > MaxSize:
		return nil, 0, finalError{fmt.Errorf("%s: over the %d-byte limit", path, MaxSize)}
	}
	return body, resp.StatusCode, nil
}

// requestURL is the URL net/http parses: the zone of an IPv6 address escaped as %25 (net/http
// leaves the zone out of the Host header, as RFC 6874 wants).
func (t target) requestURL(path string) string {
	a := t.addr.Addr()
	if a.Is6() {
		return "http://[" + a.WithZone("").String() + "%25" + url.PathEscape(a.Zone()) + "]" + path
	}
	return "http://" + a.String() + path
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// connect connects c to t within connectTimeout and ctx: a non-blocking connect, then a wait
// through the poller (so the deadline and Close apply) until the socket is writable.
func connect(ctx context.Context, c *net.TCPConn, t target) error {
	deadline := time.Now().Add(connectTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetDeadline(deadline)
	defer c.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var sa unix.Sockaddr
	if a := t.addr.Addr(); a.Is4() {
		sa = &unix.SockaddrInet4{Port: int(t.addr.Port()), Addr: a.As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: int(t.addr.Port()), Addr: a.As16(), ZoneId: uint32(t.ifindex)}
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = unix.Connect(int(fd), sa) }); err != nil {
		return err
	}
	if cerr == nil {
		return nil
	}
	if !errors.Is(cerr, unix.EINPROGRESS) {
		return fmt.Errorf("connect: %w", cerr)
	}
	// Writable means the connect ended; SO_ERROR says how.
	err = rc.Write(func(fd uintptr) bool {
		n, gerr := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case gerr != nil:
			cerr = gerr
		case n != 0:
			cerr = syscall.Errno(n)
		default:
			if _, perr := unix.Getpeername(int(fd)); perr != nil {
				return false // still connecting: wait until writable
			}
			cerr = nil
		}
		return true
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("connect: %w", ctx.Err())
		}
		return fmt.Errorf("connect: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("connect: %w", cerr)
	}
	return nil
}
