package netnstest

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

// DHCPv4Config is what a test DHCPv4 server hands out.
type DHCPv4Config struct {
	Link      *Link        // the server's end of the link
	Server    netip.Addr   // the server's own address on Link (add it with AddAddr first)
	Lease     netip.Prefix // the address and prefix length offered; invalid: offer nothing valid
	Router    netip.Addr   // optional
	DNS       []netip.Addr // optional
	LeaseTime time.Duration
	Delay     time.Duration // wait before each answer
	Hostile   []Hostile     // hostile replies sent before the valid one
}

// DHCPv4Server is a running test DHCPv4 server (insomniacslk/dhcp server4). It answers DISCOVER
// with OFFER and REQUEST with ACK, for any client, always with the configured lease.
type DHCPv4Server struct {
	*lifecycle
	cfg DHCPv4Config
	srv *server4.Server
}

// StartDHCPv4 starts a DHCPv4 server on cfg.Link and stops it when the test ends.
func StartDHCPv4(t testing.TB, cfg DHCPv4Config) *DHCPv4Server {
	t.Helper()
	if cfg.LeaseTime == 0 {
		cfg.LeaseTime = time.Hour
	}
	s := &DHCPv4Server{lifecycle: newLifecycle(), cfg: cfg}
	err := cfg.Link.NS.Do(func() error {
		var err error
		s.srv, err = server4.NewServer(cfg.Link.Name, nil, s.handle)
		return err
	})
	if err != nil {
		t.Fatalf("netnstest: DHCPv4 server on %s: %v", cfg.Link.Name, err)
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve()
	}()
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the server and waits for its handlers to end.
func (s *DHCPv4Server) Stop() { s.shutdown(s.srv.Close) }

func (s *DHCPv4Server) handle(conn net.PacketConn, peer net.Addr, m *dhcpv4.DHCPv4) {
	if !s.enter() {
		return
	}
	defer s.leave()
	s.note(strings.ToUpper(m.MessageType().String()))
	var mt dhcpv4.MessageType
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		mt = dhcpv4.MessageTypeOffer
	case dhcpv4.MessageTypeRequest:
		mt = dhcpv4.MessageTypeAck
	default:
		return
	}
	if !s.sleep(s.cfg.Delay) {
		return
	}
	for _, h := range s.cfg.Hostile {
		if b := s.hostile(m, mt, h); b != nil {
			_, _ = conn.WriteTo(b, peer)
		}
	}
	if s.cfg.Lease.IsValid() {
		if r, err := s.reply(m, mt, s.cfg.Lease); err == nil {
			_, _ = conn.WriteTo(r.ToBytes(), peer)
		}
	}
}

// reply builds an answer to m offering lease.
func (s *DHCPv4Server) reply(m *dhcpv4.DHCPv4, mt dhcpv4.MessageType, lease netip.Prefix) (*dhcpv4.DHCPv4, error) {
	srv := net.IP(s.cfg.Server.AsSlice())
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(mt),
		dhcpv4.WithYourIP(net.IP(lease.Addr().AsSlice())),
		dhcpv4.WithServerIP(srv),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(srv)),
		dhcpv4.WithNetmask(net.CIDRMask(lease.Bits(), 32)),
		dhcpv4.WithLeaseTime(uint32(s.cfg.LeaseTime / time.Second)),
	}
	if s.cfg.Router.IsValid() {
		mods = append(mods, dhcpv4.WithRouter(net.IP(s.cfg.Router.AsSlice())))
	}
	if len(s.cfg.DNS) > 0 {
		var dns []net.IP
		for _, d := range s.cfg.DNS {
			dns = append(dns, net.IP(d.AsSlice()))
		}
		mods = append(mods, dhcpv4.WithDNS(dns...))
	}
	return dhcpv4.NewReplyFromRequest(m, mods...)
}

// hostile builds the bytes of one hostile reply to m.
func (s *DHCPv4Server) hostile(m *dhcpv4.DHCPv4, mt dhcpv4.MessageType, h Hostile) []byte {
	lease := s.cfg.Lease
	if !lease.IsValid() {
		lease = netip.MustParsePrefix("192.0.2.77/24")
	}
	bad := map[Hostile]string{Loopback: "127.0.0.1", Multicast: "224.0.0.1", LinkLocal: "169.254.1.1",
		Unspecified: "0.0.0.0", Broadcast: "255.255.255.255", ClassE: "240.0.0.1"}
	if a, ok := bad[h]; ok {
		lease = netip.PrefixFrom(netip.MustParseAddr(a), lease.Bits())
	}
	r, err := s.reply(m, mt, lease)
	if err != nil {
		return nil
	}
	switch h {
	case Malformed:
		// Long enough to look like BOOTP, too short to hold the fixed header.
		return r.ToBytes()[:100]
	case WrongXID:
		r.TransactionID[0] ^= 0xff
	case WrongClient:
		r.ClientHWAddr = net.HardwareAddr{0x02, 0, 0, 0, 0xde, 0xad}
	case BadPrefix:
		r.UpdateOption(dhcpv4.OptSubnetMask(net.IPv4Mask(255, 0, 255, 0)))
	}
	return r.ToBytes()
}
