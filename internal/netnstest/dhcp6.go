package netnstest

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/dhcpv6/server6"
	"github.com/insomniacslk/dhcp/iana"
)

// DHCPv6Config is what a test DHCPv6 server hands out.
type DHCPv6Config struct {
	Link        *Link      // the server's end; its link-local address must be past DAD
	Lease       netip.Addr // the IA_NA address offered; invalid: offer nothing valid
	DNS         []netip.Addr
	RapidCommit bool // answer a SOLICIT that asks for rapid commit with a REPLY (RFC 8415 18.3.1)
	Preferred   time.Duration
	Valid       time.Duration
	Delay       time.Duration // wait before each answer
	Hostile     []Hostile     // hostile replies sent before the valid one
}

// DHCPv6Server is a running test DHCPv6 server (insomniacslk/dhcp server6). It answers SOLICIT
// with ADVERTISE (or REPLY under rapid commit), and REQUEST, RENEW, REBIND, CONFIRM, RELEASE and
// INFORMATION-REQUEST with REPLY, for any client, always with the configured lease.
type DHCPv6Server struct {
	*lifecycle
	cfg  DHCPv6Config
	srv  *server6.Server
	duid dhcpv6.DUID
}

// StartDHCPv6 starts a DHCPv6 server on cfg.Link and stops it when the test ends.
func StartDHCPv6(t testing.TB, cfg DHCPv6Config) *DHCPv6Server {
	t.Helper()
	if cfg.Preferred == 0 {
		cfg.Preferred = time.Hour
	}
	if cfg.Valid == 0 {
		cfg.Valid = 2 * time.Hour
	}
	s := &DHCPv6Server{lifecycle: newLifecycle(), cfg: cfg,
		duid: &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: cfg.Link.MAC}}
	err := cfg.Link.NS.Do(func() error {
		var err error
		s.srv, err = server6.NewServer(cfg.Link.Name, nil, s.handle)
		return err
	})
	if err != nil {
		t.Fatalf("netnstest: DHCPv6 server on %s: %v", cfg.Link.Name, err)
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve()
	}()
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the server and waits for its handlers to end.
func (s *DHCPv6Server) Stop() { s.shutdown(s.srv.Close) }

func (s *DHCPv6Server) handle(conn net.PacketConn, peer net.Addr, d dhcpv6.DHCPv6) {
	if !s.enter() {
		return
	}
	defer s.leave()
	msg, err := d.GetInnerMessage()
	if err != nil {
		return
	}
	s.note(msg.Type().String())
	if !s.sleep(s.cfg.Delay) {
		return
	}
	for _, h := range s.cfg.Hostile {
		if b := s.hostile(msg, h); b != nil {
			_, _ = conn.WriteTo(b, peer)
		}
	}
	if s.cfg.Lease.IsValid() {
		if r, err := s.reply(msg, s.cfg.Lease); err == nil && r != nil {
			_, _ = conn.WriteTo(r.ToBytes(), peer)
		}
	}
}

// reply builds the answer to msg, offering lease; nil for a message it does not answer.
func (s *DHCPv6Server) reply(msg *dhcpv6.Message, lease netip.Addr) (*dhcpv6.Message, error) {
	mods := []dhcpv6.Modifier{dhcpv6.WithServerID(s.duid)}
	if ia := msg.Options.OneIANA(); ia != nil && msg.Type() != dhcpv6.MessageTypeInformationRequest {
		mods = append(mods, dhcpv6.WithOption(&dhcpv6.OptIANA{
			IaId: ia.IaId, T1: s.cfg.Preferred / 2, T2: s.cfg.Preferred * 4 / 5,
			Options: dhcpv6.IdentityOptions{Options: dhcpv6.Options{&dhcpv6.OptIAAddress{
				IPv6Addr: net.IP(lease.AsSlice()), PreferredLifetime: s.cfg.Preferred, ValidLifetime: s.cfg.Valid,
			}}},
		}))
	}
	if len(s.cfg.DNS) > 0 {
		var dns []net.IP
		for _, a := range s.cfg.DNS {
			dns = append(dns, net.IP(a.AsSlice()))
		}
		mods = append(mods, dhcpv6.WithDNS(dns...))
	}
	switch msg.Type() {
	case dhcpv6.MessageTypeSolicit:
		if s.cfg.RapidCommit && msg.GetOneOption(dhcpv6.OptionRapidCommit) != nil {
			return dhcpv6.NewReplyFromMessage(msg, mods...)
		}
		return dhcpv6.NewAdvertiseFromSolicit(msg, mods...)
	case dhcpv6.MessageTypeRequest, dhcpv6.MessageTypeRenew, dhcpv6.MessageTypeRebind,
		dhcpv6.MessageTypeConfirm, dhcpv6.MessageTypeRelease, dhcpv6.MessageTypeInformationRequest:
		return dhcpv6.NewReplyFromMessage(msg, mods...)
	}
	return nil, nil
}

// hostile builds the bytes of one hostile reply to msg.
func (s *DHCPv6Server) hostile(msg *dhcpv6.Message, h Hostile) []byte {
	lease := s.cfg.Lease
	if !lease.IsValid() {
		lease = netip.MustParseAddr("2001:db8:77::77")
	}
	bad := map[Hostile]string{Loopback: "::1", Multicast: "ff02::1", LinkLocal: "fe80::1",
		Unspecified: "::", Mapped: "::ffff:192.0.2.1"}
	if a, ok := bad[h]; ok {
		lease = netip.MustParseAddr(a)
	}
	r, err := s.reply(msg, lease)
	if err != nil || r == nil {
		return nil
	}
	switch h {
	case Malformed:
		b := r.ToBytes()
		// Cut the last option short: its length now runs past the end.
		return b[:len(b)-3]
	case WrongXID:
		r.TransactionID[0] ^= 0xff
	case WrongClient:
		r.UpdateOption(dhcpv6.OptClientID(&dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet,
			LinkLayerAddr: net.HardwareAddr{0x02, 0, 0, 0, 0xde, 0xad}}))
	}
	return r.ToBytes()
}
