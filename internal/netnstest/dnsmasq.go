package netnstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// DnsmasqConfig is how a test runs Debian's dnsmasq as the DHCP/RA server of a link.
type DnsmasqConfig struct {
	Link *Link // the server's end; it needs an address in each range's subnet
	// Ranges are --dhcp-range values, e.g. "192.0.2.100,192.0.2.150,255.255.255.0,1h" or
	// "::100,::1ff,constructor:<ifname>,64,1h" (DHCPv6) or "::,constructor:<ifname>,ra-only".
	Ranges []string
	RA     bool     // --enable-ra
	Args   []string // more dnsmasq options
}

// Binary finds a daemon's binary on PATH for a test that runs it itself. Without it the test
// skips, saying how to install it (install: "apt-get install etcd-server", say), or fails under
// CI=true.
func Binary(t testing.TB, name, install string) string {
	t.Helper()
	return binary(t, name, install)
}

// binary finds a server's binary on PATH. Without it the test skips (install says how to get
// it), or fails under CI=true.
func binary(t testing.TB, name, install string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("netnstest: %s not found (CI=true, so this is a failure)", name)
		}
		t.Skipf("netnstest: %s not found (%s)", name, install)
	}
	return bin
}

// StartDnsmasq runs dnsmasq in the foreground in the link's namespace (DNS off, leases in a
// temp dir) and waits until it is serving. It is killed by PID when the test ends. Without a
// dnsmasq binary it skips, or fails under CI=true.
func StartDnsmasq(t testing.TB, cfg DnsmasqConfig) *Proc {
	t.Helper()
	bin := binary(t, "dnsmasq", "apt-get install dnsmasq-base")
	dir := t.TempDir()
	args := []string{"--no-daemon", "--conf-file=/dev/null", "--port=0", "--log-dhcp",
		"--interface=" + cfg.Link.Name, "--bind-interfaces", "--user=root", "--group=root",
		"--pid-file=" + filepath.Join(dir, "dnsmasq.pid"),
		"--dhcp-leasefile=" + filepath.Join(dir, "leases"), "--dhcp-authoritative",
		// Without it dnsmasq pings each address for 3 s before offering it.
		"--no-ping"}
	for _, r := range cfg.Ranges {
		args = append(args, "--dhcp-range="+r)
	}
	if cfg.RA {
		args = append(args, "--enable-ra")
	}
	args = append(args, cfg.Args...)
	p := cfg.Link.NS.Start(t, bin, args...)
	// "started, version" comes after the sockets are bound.
	if err := p.WaitOutput("started, version", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return p
}
