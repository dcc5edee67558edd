package netnstest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/insomniacslk/dhcp/dhcpv6/nclient6"
)

// pair builds a server and a client namespace joined by a veth pair, the server end holding
// 192.0.2.1/24 and 2001:db8:1::1/64.
func pair(t *testing.T) (srv, cli *Link) {
	srvNS, cliNS := New(t), New(t)
	srv, cli = Veth(t, srvNS, cliNS, VethConfig{})
	srv.AddAddr(t, "192.0.2.1/24")
	srv.AddAddr(t, "2001:db8:1::1/64")
	return srv, cli
}

func TestDHCPv4Lease(t *testing.T) {
	srv, cli := pair(t)
	s := StartDHCPv4(t, DHCPv4Config{Link: srv, Server: netip.MustParseAddr("192.0.2.1"),
		Lease: netip.MustParsePrefix("192.0.2.100/24"), Router: netip.MustParseAddr("192.0.2.1")})
	var lease *nclient4.Lease
	err := cli.NS.Do(func() error {
		c, err := nclient4.New(cli.Name, nclient4.WithTimeout(time.Second), nclient4.WithRetry(2))
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		lease, err = c.Request(ctx)
		return err
	})
	if err != nil {
		t.Fatalf("DHCPv4 request: %v", err)
	}
	if got := lease.ACK.YourIPAddr.String(); got != "192.0.2.100" {
		t.Errorf("leased %s, want 192.0.2.100", got)
	}
	if got := s.Seen(); !slices.Equal(got, []string{"DISCOVER", "REQUEST"}) {
		t.Errorf("server saw %v, want DISCOVER then REQUEST", got)
	}
}

func TestDHCPv6Lease(t *testing.T) {
	for _, rapid := range []bool{false, true} {
		t.Run(map[bool]string{false: "advertise", true: "rapid-commit"}[rapid], func(t *testing.T) {
			srv, cli := pair(t)
			cli.LinkLocal(t, 5*time.Second)
			s := StartDHCPv6(t, DHCPv6Config{Link: srv, Lease: netip.MustParseAddr("2001:db8:1::100"), RapidCommit: rapid})
			var got string
			err := cli.NS.Do(func() error {
				c, err := nclient6.New(cli.Name, nclient6.WithTimeout(time.Second), nclient6.WithRetry(2))
				if err != nil {
					return err
				}
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if rapid {
					rep, err := c.RapidSolicit(ctx)
					if err != nil {
						return err
					}
					got = rep.Options.OneIANA().Options.OneAddress().IPv6Addr.String()
					return nil
				}
				adv, err := c.Solicit(ctx)
				if err != nil {
					return err
				}
				rep, err := c.Request(ctx, adv)
				if err != nil {
					return err
				}
				got = rep.Options.OneIANA().Options.OneAddress().IPv6Addr.String()
				return nil
			})
			if err != nil {
				t.Fatalf("DHCPv6: %v", err)
			}
			if got != "2001:db8:1::100" {
				t.Errorf("leased %s, want 2001:db8:1::100", got)
			}
			want := []string{"SOLICIT", "REQUEST"}
			if rapid {
				want = want[:1]
			}
			if !slices.Equal(s.Seen(), want) {
				t.Errorf("server saw %v, want %v", s.Seen(), want)
			}
		})
	}
}

func TestRASLAAC(t *testing.T) {
	srv, cli := pair(t)
	StartRA(t, RAConfig{Link: srv, Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:5::/64")}})
	waitAddr(t, cli, "2001:db8:5:")
}

func TestRadvdSLAAC(t *testing.T) {
	srv, cli := pair(t)
	StartRadvd(t, srv, "interface "+srv.Name+" {\n  AdvSendAdvert on;\n  prefix 2001:db8:6::/64 {\n    AdvAutonomous on;\n  };\n};\n")
	waitAddr(t, cli, "2001:db8:6:")
}

// waitAddr waits (at most 10 s) until an address holding prefix is on l.
func waitAddr(t *testing.T, l *Link, prefix string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(string(l.Addrs(t)), prefix) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s address after 10 s: %s", prefix, l.Addrs(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAwaitDHCPv6(t *testing.T) {
	srv, cli := pair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan bool, 1)
	go func() { got <- srv.AwaitDHCPv6(ctx, t) }()
	// The zone as an index: Go resolves names through a cache that namespaces fool.
	dst := &net.UDPAddr{IP: net.ParseIP("ff02::1:2"), Port: 547, Zone: strconv.Itoa(cli.Index)}
	// The listener joins the group some time after the goroutine starts, and the link may not
	// have its carrier yet (no route to ff02::/16): send until it hears.
	var err error
	for try := 0; ; try++ {
		err = cli.NS.Do(func() error {
			c, err := net.DialUDP("udp6", nil, dst)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("solicit"))
			return err
		})
		select {
		case ok := <-got:
			if !ok {
				t.Fatal("AwaitDHCPv6 heard nothing")
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if try == 50 {
			t.Fatalf("AwaitDHCPv6 did not return after 50 tries to send to ff02::1:2 (last error %v)", err)
		}
	}
}

func TestAwaitDHCPv6Cancelled(t *testing.T) {
	srv, _ := pair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if srv.AwaitDHCPv6(ctx, t) {
		t.Error("AwaitDHCPv6 reports a message that nobody sent")
	}
}

func TestDnsmasqLease(t *testing.T) {
	srv, cli := pair(t)
	StartDnsmasq(t, DnsmasqConfig{Link: srv, Ranges: []string{"192.0.2.50,192.0.2.60,255.255.255.0,1h"}})
	var got string
	err := cli.NS.Do(func() error {
		c, err := nclient4.New(cli.Name, nclient4.WithTimeout(time.Second), nclient4.WithRetry(3))
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		lease, err := c.Request(ctx)
		if err != nil {
			return err
		}
		got = lease.ACK.YourIPAddr.String()
		return nil
	})
	if err != nil {
		t.Fatalf("DHCPv4 from dnsmasq: %v", err)
	}
	if a := netip.MustParseAddr(got); !netip.MustParsePrefix("192.0.2.48/28").Contains(a) || a.As4()[3] < 50 || a.As4()[3] > 60 {
		t.Errorf("dnsmasq leased %s, want 192.0.2.50-60", got)
	}
}

// TestCleanup checks that a test that stops early (here by skipping, which unwinds like a
// failure) leaves no namespace and no process behind.
func TestCleanup(t *testing.T) {
	var names []string
	var pid int
	t.Run("early-exit", func(t *testing.T) {
		a, b := New(t), New(t)
		names = []string{a.Name, b.Name}
		Veth(t, a, b, VethConfig{})
		pid = a.Start(t, "sleep", "60").Cmd.Process.Pid
		t.SkipNow()
	})
	for _, n := range names {
		if _, err := os.Stat("/run/netns/" + n); !os.IsNotExist(err) {
			t.Errorf("namespace %s still exists (stat: %v)", n, err)
		}
	}
	if pid == 0 {
		t.Fatal("subtest did not start its process")
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("process %d still exists (kill 0: %v)", pid, err)
	}
}

func TestDoRunsInNamespace(t *testing.T) {
	ns := New(t)
	var inside, outside string
	read := func() (string, error) {
		b, err := os.ReadFile("/proc/thread-self/net/dev")
		return string(b), err
	}
	if err := ns.Do(func() error { var err error; inside, err = read(); return err }); err != nil {
		t.Fatal(err)
	}
	outside, _ = read()
	// One line per interface, each with a colon: a new namespace has only lo.
	if strings.Count(inside, ":") != 1 || !strings.Contains(inside, "lo:") {
		t.Errorf("inside %s: want only lo, got\n%s", ns.Name, inside)
	}
	if inside == outside {
		t.Error("Do saw the same interfaces as the test's own namespace")
	}
	if err := ns.Do(func() error { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("panic in Do: got %v, want an error naming it", err)
	}
}

// TestSysctlStaysInNamespace: a sysctl set through Sysctl changes the namespace, not the host
// (lo exists in both, so a wrong namespace would not fail loudly).
func TestSysctlStaysInNamespace(t *testing.T) {
	ns := New(t)
	const key = "/proc/sys/net/ipv6/conf/lo/hop_limit"
	host, err := os.ReadFile(key)
	if err != nil {
		t.Skip("no IPv6 sysctls here")
	}
	want := "77"
	if strings.TrimSpace(string(host)) == want {
		want = "78"
	}
	ns.Sysctl(t, "net.ipv6.conf.lo.hop_limit", want)
	out, err := ns.Exec(context.Background(), "cat", key)
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("inside: %q, %v; want %s", out, err, want)
	}
	if now, _ := os.ReadFile(key); string(now) != string(host) {
		os.WriteFile(key, host, 0)
		t.Errorf("the host's %s changed from %q to %q", key, host, now)
	}
}

// A namespace left by a test process that was killed (its PID gone) is removed, with the daemon
// still running in it, by the next test process's first New; one whose process runs is kept.
func TestNewSweepsOrphans(t *testing.T) {
	Require(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	alive := exec.Command("sleep", "60")
	if err := alive.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = alive.Process.Kill(); _ = alive.Wait() })
	orphan := fmt.Sprintf("%s%d-1", Prefix, dead.Process.Pid)
	kept := fmt.Sprintf("%s%d-1", Prefix, alive.Process.Pid)
	for _, name := range []string{orphan, kept} {
		if out, err := ip("netns", "add", name); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", name, err, out)
		}
		t.Cleanup(func() { _, _ = ip("netns", "del", name) })
	}
	daemon := exec.Command("ip", "netns", "exec", orphan, "sleep", "60")
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = daemon.Process.Kill(); _ = daemon.Wait() })

	sweepOrphans(t)
	if _, err := os.Stat("/run/netns/" + orphan); !os.IsNotExist(err) {
		t.Errorf("%s (pid %d gone) is still there: %v", orphan, dead.Process.Pid, err)
	}
	if _, err := os.Stat("/run/netns/" + kept); err != nil {
		t.Errorf("%s (pid %d running) was removed: %v", kept, alive.Process.Pid, err)
	}
	done := make(chan error, 1)
	go func() { done <- daemon.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Errorf("the daemon in %s still runs", orphan)
	}
}
