// Package netnstest builds throw-away network namespaces, veth pairs and in-process DHCP and
// router-advertisement servers for tests that need real packets on a real (virtual) link.
//
// Everything a helper creates is removed in t.Cleanup, on success, failure, skip or panic. Tests
// that use it need root and the ip command: without them they skip, unless the environment says
// CI=true, where a missing prerequisite fails the test instead.
package netnstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Prefix starts the name of every namespace this package creates, so that leftovers are easy to
// find (ip netns list | grep ^cwt-).
const Prefix = "cwt-"

// cmdTimeout bounds every ip/sysctl command the harness runs.
const cmdTimeout = 10 * time.Second

var seq atomic.Uint32

// next returns a number unique within this process.
func next() uint32 { return seq.Add(1) }

// Require skips the test when it cannot create namespaces here (not root, or no ip command), and
// fails it instead when CI=true.
func Require(t testing.TB) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root to create network namespaces"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs the ip command (iproute2)"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("netnstest: %s (CI=true, so this is a failure)", why)
	}
	t.Skip("netnstest: " + why)
}

// NS is a network namespace that lives as long as the test that created it.
type NS struct {
	Name string // the ip netns name, Prefix + pid + counter
	Path string // /run/netns/Name, for setns
}

// New creates a network namespace with lo up, and removes it when the test ends.
func New(t testing.TB) *NS {
	t.Helper()
	Require(t)
	sweepOnce.Do(func() { sweepOrphans(t) })
	name := fmt.Sprintf("%s%d-%d", Prefix, os.Getpid(), next())
	if out, err := ip("netns", "add", name); err != nil {
		t.Fatalf("netnstest: ip netns add %s: %v: %s", name, err, out)
	}
	ns := &NS{Name: name, Path: filepath.Join("/run/netns", name)}
	t.Cleanup(func() {
		// Deleting the namespace also destroys every link inside it.
		if out, err := ip("netns", "del", name); err != nil {
			t.Errorf("netnstest: ip netns del %s: %v: %s", name, err, out)
		}
	})
	ns.IP(t, "link", "set", "dev", "lo", "up")
	return ns
}

// ip runs the ip command with a time bound.
func ip(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	return exec.CommandContext(ctx, "ip", args...).CombinedOutput()
}

// IP runs `ip -n NS args...` and fails the test on error. It returns the output.
func (ns *NS) IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := ip(append([]string{"-n", ns.Name}, args...)...)
	if err != nil {
		t.Fatalf("netnstest: ip -n %s %s: %v: %s", ns.Name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Do runs fn on an OS thread that has entered the namespace. Sockets that fn opens stay in the
// namespace, so they may be used from any goroutine afterwards. A panic in fn is returned as an
// error.
func (ns *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: when this goroutine ends, the runtime kills the thread
		// instead of reusing it in the wrong namespace.
		runtime.LockOSThread()
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("netnstest: panic in %s: %v", ns.Name, r)
			}
		}()
		fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("netnstest: open %s: %w", ns.Path, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("netnstest: setns %s: %w", ns.Name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Sysctl sets a sysctl inside the namespace. key is dotted (net.ipv6.conf.eth0.accept_dad) or
// a path under /proc/sys; interface names with dots need the path form.
func (ns *NS) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	p := key
	if !strings.Contains(key, "/") {
		p = strings.ReplaceAll(key, ".", "/")
	}
	p = filepath.Join("/proc/sys", p)
	// /proc/sys/net shows the namespace of the thread that opens it.
	err := ns.Do(func() error { return os.WriteFile(p, []byte(value), 0) })
	if err != nil {
		t.Fatalf("netnstest: sysctl %s=%s in %s: %v", key, value, ns.Name, err)
	}
}

// DAD says how a link runs IPv6 duplicate address detection.
type DAD int

const (
	// DADOff sets accept_dad=0: addresses are usable at once.
	DADOff DAD = iota
	// DADOptimistic sets optimistic_dad=1 and use_optimistic=1: addresses are usable at once
	// but still tentative until DAD ends (about 2 s).
	DADOptimistic
	// DADDefault keeps the kernel's default: link-local addresses take about 2 s to be usable.
	DADDefault
)

// Link is one end of a veth pair.
type Link struct {
	NS    *NS
	Name  string
	Index int
	MAC   net.HardwareAddr
}

// VethConfig names the two ends of a veth pair and how they start.
type VethConfig struct {
	NameA, NameB string // <= 15 bytes; empty picks a unique name
	DADA, DADB   DAD    // per end; the zero value is DADOff
	Down         bool   // leave both ends down (set sysctls, then call Up)
}

// Veth creates a veth pair with one end in a and the other in b, brings both up unless
// cfg.Down, and returns the ends. The links go away with their namespaces.
func Veth(t testing.TB, a, b *NS, cfg VethConfig) (*Link, *Link) {
	t.Helper()
	n := next()
	if cfg.NameA == "" {
		cfg.NameA = fmt.Sprintf("cwa%d", n)
	}
	if cfg.NameB == "" {
		cfg.NameB = fmt.Sprintf("cwb%d", n)
	}
	for _, name := range []string{cfg.NameA, cfg.NameB} {
		if len(name) > 15 || name == "" {
			t.Fatalf("netnstest: link name %q: must be 1 to 15 bytes", name)
		}
	}
	// Both ends are created straight in their namespaces, so names only need to be unique
	// there.
	if out, err := ip("link", "add", cfg.NameA, "netns", a.Name, "type", "veth",
		"peer", "name", cfg.NameB, "netns", b.Name); err != nil {
		t.Fatalf("netnstest: veth %s/%s: %v: %s", cfg.NameA, cfg.NameB, err, out)
	}
	la, lb := a.link(t, cfg.NameA), b.link(t, cfg.NameB)
	la.SetDAD(t, cfg.DADA)
	lb.SetDAD(t, cfg.DADB)
	if !cfg.Down {
		la.Up(t)
		lb.Up(t)
	}
	return la, lb
}

// link looks up a link in the namespace.
func (ns *NS) link(t testing.TB, name string) *Link {
	t.Helper()
	var l *Link
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return err
		}
		l = &Link{NS: ns, Name: name, Index: ifi.Index, MAC: ifi.HardwareAddr}
		return nil
	})
	if err != nil {
		t.Fatalf("netnstest: link %s in %s: %v", name, ns.Name, err)
	}
	return l
}

// SetDAD sets the link's duplicate address detection mode; call it while the link is down.
func (l *Link) SetDAD(t testing.TB, mode DAD) {
	t.Helper()
	conf := "net/ipv6/conf/" + l.Name + "/"
	switch mode {
	case DADOff:
		l.NS.Sysctl(t, conf+"accept_dad", "0")
	case DADOptimistic:
		l.NS.Sysctl(t, conf+"accept_dad", "1")
		l.NS.Sysctl(t, conf+"optimistic_dad", "1")
		l.NS.Sysctl(t, conf+"use_optimistic", "1")
	case DADDefault:
		l.NS.Sysctl(t, conf+"accept_dad", "1")
	}
}

// Up brings the link up.
func (l *Link) Up(t testing.TB) {
	t.Helper()
	l.NS.IP(t, "link", "set", "dev", l.Name, "up")
}

// Down takes the link down.
func (l *Link) Down(t testing.TB) {
	t.Helper()
	l.NS.IP(t, "link", "set", "dev", l.Name, "down")
}

// AddAddr adds an address such as "192.0.2.1/24" or "2001:db8::1/64" to the link. IPv6
// addresses skip DAD (nodad), so they are usable at once.
func (l *Link) AddAddr(t testing.TB, prefix string) {
	t.Helper()
	p, err := netip.ParsePrefix(prefix)
	if err != nil {
		t.Fatalf("netnstest: AddAddr %q: %v", prefix, err)
	}
	args := []string{"addr", "add", p.String(), "dev", l.Name}
	if p.Addr().Is6() {
		args = append(args, "nodad")
	}
	l.NS.IP(t, args...)
}

// LinkLocal waits up to timeout for the link's IPv6 link-local address to finish DAD and returns
// it (with the link's zone).
func (l *Link) LinkLocal(t testing.TB, timeout time.Duration) netip.Addr {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if a, ok := l.usableLinkLocal(t); ok {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("netnstest: %s in %s: no usable link-local address after %v", l.Name, l.NS.Name, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// usableLinkLocal reports the link-local address once it is neither tentative nor dadfailed.
func (l *Link) usableLinkLocal(t testing.TB) (netip.Addr, bool) {
	t.Helper()
	out := l.NS.IP(t, "-j", "-6", "addr", "show", "dev", l.Name, "scope", "link")
	var links []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			Tentative bool   `json:"tentative"`
			DADFailed bool   `json:"dadfailed"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		t.Fatalf("netnstest: ip -j addr: %v: %s", err, out)
	}
	for _, lk := range links {
		for _, ai := range lk.AddrInfo {
			a, err := netip.ParseAddr(ai.Local)
			if err == nil && a.IsLinkLocalUnicast() && !ai.Tentative && !ai.DADFailed {
				return a.WithZone(l.Name), true
			}
		}
	}
	return netip.Addr{}, false
}

// Addrs returns the link's addresses as `ip -j addr show dev NAME` prints them.
func (l *Link) Addrs(t testing.TB) []byte {
	t.Helper()
	return bytes.TrimSpace([]byte(l.NS.IP(t, "-j", "addr", "show", "dev", l.Name)))
}
