package netnstest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// StartRadvd runs radvd with conf (a radvd.conf) in the foreground in the link's namespace, its
// log on stderr so that the test sees it, and waits until it advertises. It is killed by PID
// when the test ends. Without a radvd binary it skips, or fails under CI=true.
func StartRadvd(t testing.TB, l *Link, conf string) *Proc {
	t.Helper()
	bin := binary(t, "radvd", "make deps installs radvd")
	dir := t.TempDir()
	path := filepath.Join(dir, "radvd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := l.NS.Start(t, bin, "-C", path, "-p", filepath.Join(dir, "radvd.pid"), "-m", "stderr", "-n")
	// radvd sends its first RA once it has set up the interface; "version" starts its log.
	if err := p.WaitOutput("version", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return p
}

// AwaitDHCPv6 waits until a DHCPv6 message to ff02::1:2 (a client's SOLICIT) reaches l, and
// reports whether one did before ctx ended. It may run on any goroutine: when it cannot listen,
// it marks t failed (Errorf) and returns false.
func (l *Link) AwaitDHCPv6(ctx context.Context, t testing.TB) bool {
	var conn *net.UDPConn
	err := l.NS.Do(func() error {
		ifi, err := net.InterfaceByName(l.Name)
		if err != nil {
			return err
		}
		conn, err = net.ListenMulticastUDP("udp6", ifi, &net.UDPAddr{IP: net.ParseIP("ff02::1:2"), Port: 547})
		return err
	})
	if err != nil {
		t.Errorf("netnstest: listening for DHCPv6 on %s in %s: %v", l.Name, l.NS.Name, err)
		return false
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	_, _, err = conn.ReadFromUDP(make([]byte, 1500))
	return err == nil
}
