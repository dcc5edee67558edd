package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/insomniacslk/dhcp/dhcpv6/nclient6"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/status"
)

// binDir holds the helper binary, built once per test run.
var (
	binDir   string
	buildMu  sync.Mutex
	built    string
	buildErr error
)

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "cw-live-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// helperBin builds cmd/clearwater-firstboot once (the first test that needs it pays).
func helperBin(t testing.TB) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if built == "" && buildErr == nil {
		out := filepath.Join(binDir, "clearwater-firstboot")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/clearwater-aio/packer-plugin-clearwater/cmd/clearwater-firstboot")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, b)
		}
		built = out
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// The server's addresses on the link, and what its DHCP servers lease.
var (
	srv4   = netip.MustParsePrefix("192.0.2.1/24")
	srv6   = netip.MustParsePrefix("2001:db8:1::1/64")
	lease4 = netip.MustParsePrefix("192.0.2.100/24")
	lease6 = netip.MustParseAddr("2001:db8:1::100")
	slaac  = netip.MustParsePrefix("2001:db8:5::/64")
)

// network is one test's server and client namespaces, and the client's image root.
type network struct {
	srv, cli *netnstest.Link // rtr0 (server namespace), eth0 (client namespace)
	root     string
	fakes    string // a folder of fake netplan/networkctl/ifup put first on the helper's PATH
}

// newNetwork builds the two namespaces and the link (DAD off on both ends unless clientDAD says
// otherwise), the server's static addresses, and an image root with the helper's config.
func newNetwork(t testing.TB, clientDAD netnstest.DAD, config string) *network {
	t.Helper()
	netnstest.Require(t)
	sns, cns := netnstest.New(t), netnstest.New(t)
	n := &network{root: t.TempDir()}
	n.srv, n.cli = netnstest.Veth(t, sns, cns, netnstest.VethConfig{NameA: "rtr0", NameB: "eth0", DADB: clientDAD})
	n.srv.AddAddr(t, srv4.String())
	n.srv.AddAddr(t, srv6.String())
	// A veth's operstate turns UP up to 1 s after both ends are up (the kernel's linkwatch);
	// at boot the helper starts after the NIC has its carrier, so wait for it here.
	waitUp(t, n.cli)
	waitUp(t, n.srv)
	n.put(t, "/etc/clearwater/firstboot.yaml", config)
	n.fakes = fakeApply(t)
	return n
}

// fakeApply makes a folder of fake netplan/networkctl/ifup that only record their calls (in
// its file "ran"), to put first on the helper's PATH.
func fakeApply(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"netplan", "networkctl", "ifup"} {
		script := "#!/bin/sh\necho \"" + name + " $*\" >> " + filepath.Join(dir, "ran") + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// waitUp waits (at most 5 s) until the link's operstate is UP.
func waitUp(t testing.TB, l *netnstest.Link) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var links []struct {
			OperState string `json:"operstate"`
		}
		out := l.NS.IP(t, "-j", "link", "show", "dev", l.Name)
		if json.Unmarshal([]byte(out), &links) == nil && len(links) == 1 && links[0].OperState == "UP" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s not UP after 5 s: %s", l.Name, l.NS.Name, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// put writes a file under the image root.
func (n *network) put(t testing.TB, name, body string) {
	t.Helper()
	p := filepath.Join(n.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// forceIPv6 creates upstream's marker file under the root.
func (n *network) forceIPv6(t testing.TB) { n.put(t, "/etc/clearwater/force_ipv6", "") }

// report is the helper's --json output.
type report = status.Report

// helper is one run of the helper binary in the client namespace.
type helper struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	started        time.Time
	ended          time.Time
}

// start runs `clearwater-firstboot run --root ROOT --json` live in the client namespace, with the
// fake apply commands first on PATH. It is killed by PID if still running when the test ends.
func (n *network) start(t testing.TB) *helper {
	t.Helper()
	return startHelper(t, n.cli.NS, n.root, n.fakes)
}

// startHelper runs `clearwater-firstboot run --root ROOT --json` live in ns, with the fake apply
// commands in fakes first on PATH. It is killed by PID if still running when the test ends.
func startHelper(t testing.TB, ns *netnstest.NS, root, fakes string) *helper {
	t.Helper()
	bin := helperBin(t)
	h := &helper{done: make(chan struct{})}
	h.cmd = exec.Command("ip", "netns", "exec", ns.Name, "env", "PATH="+fakes+":"+os.Getenv("PATH"),
		bin, "run", "--root", root, "--json")
	h.cmd.Stdout, h.cmd.Stderr = &h.stdout, &h.stderr
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	h.started = time.Now()
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = h.cmd.Wait()
		h.ended = time.Now()
		close(h.done)
	}()
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			_ = h.cmd.Process.Kill()
			<-h.done
		}
	})
	return h
}

// wait waits (at most 30 s) for the helper to exit and returns its report and exit status.
func (h *helper) wait(t testing.TB) (report, int) {
	t.Helper()
	select {
	case <-h.done:
	case <-time.After(30 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
		t.Fatalf("the helper did not exit within 30 s; stderr:\n%s", h.stderr.String())
	}
	if strings.Contains(h.stderr.String(), "panic") {
		t.Errorf("the helper panicked:\n%s", h.stderr.String())
	}
	var r report
	if err := json.Unmarshal(h.stdout.Bytes(), &r); err != nil {
		t.Fatalf("helper output is not one JSON object: %v\nstdout:\n%s\nstderr:\n%s", err, h.stdout.String(), h.stderr.String())
	}
	if _, bench := t.(*testing.B); bench {
		return r, h.cmd.ProcessState.ExitCode()
	}
	t.Logf("helper exit %d after %s: %s %s degraded=%t\nreasons:\n  %s", h.cmd.ProcessState.ExitCode(),
		h.ended.Sub(h.started).Round(time.Millisecond), r.Family, r.Address, r.Degraded, strings.Join(r.Reasons, "\n  "))
	return r, h.cmd.ProcessState.ExitCode()
}

// runHelper starts the helper and waits for it.
func (n *network) runHelper(t testing.TB) (report, int) {
	t.Helper()
	return n.start(t).wait(t)
}

// read returns a file under the image root ("" when missing).
func (n *network) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(n.root, name))
	return string(b)
}

// clearwaterFiles lists the files under ROOT/etc/clearwater other than the test's own inputs.
func (n *network) clearwaterFiles(t testing.TB) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(filepath.Join(n.root, "etc/clearwater"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && info.Name() != "firstboot.yaml" && info.Name() != "force_ipv6" {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// applied returns the apply commands the helper ran (through the fakes on its PATH).
func (n *network) applied() string {
	b, _ := os.ReadFile(filepath.Join(n.fakes, "ran"))
	return string(b)
}

// dhcp4 plays the OS's DHCPv4 client on the client end: a real DISCOVER/OFFER/REQUEST/ACK
// exchange, then the leased address with its lifetimes and the default route, as networkd adds
// them. It returns the address and the time right after `ip addr add` returned.
func dhcp4(t testing.TB, l *netnstest.Link) (netip.Addr, time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var lease *nclient4.Lease
	err := l.NS.Do(func() error {
		c, err := nclient4.New(l.Name, nclient4.WithTimeout(time.Second), nclient4.WithRetry(3))
		if err != nil {
			return err
		}
		defer c.Close()
		lease, err = c.Request(ctx)
		return err
	})
	if err != nil {
		t.Fatalf("DHCPv4 client on %s: %v", l.Name, err)
	}
	ack := lease.ACK
	addr, _ := netip.AddrFromSlice(ack.YourIPAddr.To4())
	bits, _ := ack.SubnetMask().Size()
	life := strconv.Itoa(int(ack.IPAddressLeaseTime(time.Hour) / time.Second))
	l.NS.IP(t, "addr", "add", netip.PrefixFrom(addr, bits).String(), "dev", l.Name, "valid_lft", life, "preferred_lft", life)
	usable := time.Now()
	if r := ack.Router(); len(r) > 0 {
		l.NS.IP(t, "route", "add", "default", "via", r[0].String(), "dev", l.Name)
	}
	return addr, usable
}

// dhcp6 plays the OS's DHCPv6 client: SOLICIT/ADVERTISE/REQUEST/REPLY, then the leased address
// as a /128 with its lifetimes, as networkd adds it (the default route comes from the RA). It
// returns the address and the time it was seen past DAD.
func dhcp6(t testing.TB, l *netnstest.Link) (netip.Addr, time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l.LinkLocal(t, 5*time.Second) // nclient6 binds to it
	var addr netip.Addr
	var pref, valid time.Duration
	err := l.NS.Do(func() error {
		c, err := nclient6.New(l.Name, nclient6.WithTimeout(time.Second), nclient6.WithRetry(3))
		if err != nil {
			return err
		}
		defer c.Close()
		adv, err := c.Solicit(ctx)
		if err != nil {
			return err
		}
		rep, err := c.Request(ctx, adv)
		if err != nil {
			return err
		}
		ia := rep.Options.OneIANA()
		if ia == nil || ia.Options.OneAddress() == nil {
			return errors.New("no IA_NA address in the REPLY")
		}
		a := ia.Options.OneAddress()
		addr, _ = netip.AddrFromSlice(a.IPv6Addr)
		pref, valid = a.PreferredLifetime, a.ValidLifetime
		return nil
	})
	if err != nil {
		t.Fatalf("DHCPv6 client on %s: %v", l.Name, err)
	}
	l.NS.IP(t, "-6", "addr", "add", netip.PrefixFrom(addr, 128).String(), "dev", l.Name,
		"valid_lft", strconv.Itoa(int(valid/time.Second)), "preferred_lft", strconv.Itoa(int(pref/time.Second)))
	return addr, usableIPv6(t, l, func(a netip.Addr) bool { return a == addr })
}

// usableIPv6 waits (at most 10 s) until a global address that want accepts is on the link and
// past DAD, and returns when it saw it.
func usableIPv6(t testing.TB, l *netnstest.Link, want func(netip.Addr) bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var links []struct {
			AddrInfo []struct {
				Local     string `json:"local"`
				Scope     string `json:"scope"`
				Tentative bool   `json:"tentative"`
				DADFailed bool   `json:"dadfailed"`
			} `json:"addr_info"`
		}
		out := l.NS.IP(t, "-j", "-6", "addr", "show", "dev", l.Name)
		if err := json.Unmarshal([]byte(out), &links); err != nil {
			t.Fatalf("ip -j addr: %v: %s", err, out)
		}
		for _, lk := range links {
			for _, ai := range lk.AddrInfo {
				a, err := netip.ParseAddr(ai.Local)
				if err == nil && ai.Scope == "global" && !ai.Tentative && !ai.DADFailed && want(a) {
					return time.Now()
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no usable IPv6 on %s after 10 s:\n%s", l.Name, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// slaacAddr waits for the kernel's SLAAC address in prefix and returns it.
func slaacAddr(t testing.TB, l *netnstest.Link, prefix netip.Prefix) netip.Addr {
	t.Helper()
	usableIPv6(t, l, prefix.Contains)
	out := l.NS.IP(t, "-j", "-6", "addr", "show", "dev", l.Name, "scope", "global")
	var links []struct {
		AddrInfo []struct {
			Local string `json:"local"`
		} `json:"addr_info"`
	}
	_ = json.Unmarshal([]byte(out), &links)
	for _, lk := range links {
		for _, ai := range lk.AddrInfo {
			if a, err := netip.ParseAddr(ai.Local); err == nil && prefix.Contains(a) {
				return a
			}
		}
	}
	t.Fatalf("no address in %s on %s:\n%s", prefix, l.Name, out)
	return netip.Addr{}
}

// startDHCPv4 starts the test DHCPv4 server (netnstest) leasing lease4 with the server as router.
func (n *network) startDHCPv4(t testing.TB, hostile ...netnstest.Hostile) *netnstest.DHCPv4Server {
	return netnstest.StartDHCPv4(t, netnstest.DHCPv4Config{Link: n.srv, Server: srv4.Addr(), Lease: lease4,
		Router: srv4.Addr(), DNS: []netip.Addr{srv4.Addr()}, Hostile: hostile})
}

// startDHCPv6 starts the test DHCPv6 server leasing lease6.
func (n *network) startDHCPv6(t testing.TB) *netnstest.DHCPv6Server {
	return netnstest.StartDHCPv6(t, netnstest.DHCPv6Config{Link: n.srv, Lease: lease6, DNS: []netip.Addr{srv6.Addr()}})
}

// startSLAAC starts a router advertising the SLAAC prefix.
func (n *network) startSLAAC(t testing.TB) *netnstest.RASender {
	return netnstest.StartRA(t, netnstest.RAConfig{Link: n.srv, Prefixes: []netip.Prefix{slaac}})
}

// startManagedRA starts a router that says "addresses from DHCPv6" (M=1) and offers no prefix.
func (n *network) startManagedRA(t testing.TB) *netnstest.RASender {
	return netnstest.StartRA(t, netnstest.RAConfig{Link: n.srv, Managed: true, Other: true})
}
