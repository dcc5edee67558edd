package dhcpprobe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/mdlayher/ndp"
	"golang.org/x/sys/unix"
)

// ProbeV6 asks ifname for IPv6: it sends a DHCPv6 SOLICIT (without rapid commit, so no lease is
// committed) and a router solicitation, and reports the valid ADVERTISEs, the autonomous
// prefixes and the M/O flags of the router advertisements. It returns when both a DHCPv6 server
// and a router have answered, or at the end of ctx; when a router says M=0 (no DHCPv6
// addresses), DHCPv6 gets only until 1 s after its first SOLICIT.
//
// DHCPv6 needs the interface's link-local address to have passed duplicate address detection
// (about 2 s after the link comes up); ProbeV6 waits for it within ctx and says so in Errors
// when it never became usable. The router solicitation needs no address.
func ProbeV6(ctx context.Context, ifname string) Result {
	res := Result{Interface: ifname}
	ctx, cancel := bounded(ctx)
	defer cancel()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		res.errorf("ipv6: %v", err)
		return res
	}
	if ifi.Flags&net.FlagUp == 0 {
		res.errorf("ipv6: %s is down", ifname)
		return res
	}
	// A router that says M=0 has no DHCPv6 addresses (RFC 4861 4.2): DHCPv6 then gets until 1 s
	// after the first SOLICIT (servers answer in milliseconds), not the whole of ctx.
	ctx6, cancel6 := context.WithCancel(ctx)
	defer cancel6()
	var early *time.Timer
	var once sync.Once
	start := time.Now()
	onRA := func(ra *ndp.RouterAdvertisement) {
		if !ra.ManagedConfiguration {
			once.Do(func() { early = time.AfterFunc(max(time.Until(start.Add(time.Second)), grace), cancel6) })
		}
	}
	// Both sockets are opened here, on the caller's goroutine (see the package doc).
	var raRes Result
	raDone := make(chan struct{})
	if l, err := listenRA(ifi); err != nil {
		res.errorf("ra: listen on %s: %v", ifname, err)
		close(raDone)
	} else {
		go func() {
			defer close(raDone)
			l.run(ctx, &raRes, onRA)
		}()
	}
	res.merge(probeDHCPv6(ctx6, ifi))
	if ctx6.Err() != nil && ctx.Err() == nil {
		res.Notes = append(res.Notes, "dhcpv6: stopped after 1 s: the router advertises M=0 (no DHCPv6 addresses)")
	}
	<-raDone
	if early != nil {
		early.Stop()
	}
	res.merge(raRes)
	return res
}

// probeDHCPv6 solicits DHCPv6 servers on ifi.
func probeDHCPv6(ctx context.Context, ifi *net.Interface) Result {
	res := Result{Interface: ifi.Name}
	conn, err := listenDHCPv6(ctx, ifi.Name)
	if err != nil {
		res.errorf("dhcpv6: %v", err)
		return res
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	mac := ifi.HardwareAddr
	duid := &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: mac}
	var iaid [4]byte
	if len(mac) >= 4 {
		copy(iaid[:], mac[len(mac)-4:])
	} else {
		iaid = [4]byte{0, 0, 0, byte(ifi.Index)}
	}
	id, note := transactionID(3, mac)
	if note != "" {
		res.Notes = append(res.Notes, "dhcpv6: "+note)
	}
	var xid dhcpv6.TransactionID
	copy(xid[:], id)
	x := exchange{ctx: ctx, res: &res, kind: "dhcpv6", conn: conn,
		dst: &net.UDPAddr{IP: net.ParseIP("ff02::1:2"), Port: dhcpv6.DefaultServerPort, Zone: ifi.Name}}
	start := time.Now()
	x.run(func() []byte {
		return solicit(xid, duid, iaid, time.Since(start)).ToBytes()
	}, func(b []byte, src net.Addr) ([]Offer, string) {
		offers, reason := validateV6(b, xid, duid, iaid)
		if u, ok := src.(*net.UDPAddr); ok {
			// The zone is ifi's name: u.Zone comes from a process-wide index-to-name cache
			// that is wrong when namespaces reuse interface indexes.
			server, _ := netip.AddrFromSlice(u.IP)
			for i := range offers {
				offers[i].Server = server.Unmap().WithZone(ifi.Name)
			}
		}
		return offers, reason
	})
	return res
}

// listenDHCPv6 binds the DHCPv6 client port on ifname's link-local address, waiting (within
// ctx) for the address to appear and pass DAD: the kernel refuses to bind a tentative one.
func listenDHCPv6(ctx context.Context, ifname string) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: reuseAddr}
	var last error
	for {
		ll, err := linkLocal(ifname)
		if err == nil {
			addr := net.JoinHostPort(ll.WithZone(ifname).String(), fmt.Sprint(dhcpv6.DefaultClientPort))
			c, err := lc.ListenPacket(ctx, "udp6", addr)
			if err == nil {
				return c, nil
			}
			if !errors.Is(err, unix.EADDRNOTAVAIL) {
				return nil, err
			}
			last = fmt.Errorf("link-local address %s is still tentative (DAD not finished)", ll)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no usable link-local address on %s before the deadline (DAD takes about 2 s after link up): %w", ifname, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// linkLocal returns ifname's first IPv6 link-local address.
func linkLocal(ifname string) (netip.Addr, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return netip.Addr{}, err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Is6() && ip.IsLinkLocalUnicast() {
				return ip, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("%s has no IPv6 link-local address yet", ifname)
}

// reuseAddr sets SO_REUSEADDR, so that a DHCPv6 client the image runs does not stop the probe.
func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	})
	return errors.Join(err, serr)
}

// solicit builds a SOLICIT with an explicit transaction ID (dhcpv6.NewSolicit would read
// crypto/rand) and no rapid-commit option: the probe must not take a lease.
func solicit(xid dhcpv6.TransactionID, duid dhcpv6.DUID, iaid [4]byte, elapsed time.Duration) *dhcpv6.Message {
	m := &dhcpv6.Message{MessageType: dhcpv6.MessageTypeSolicit, TransactionID: xid}
	m.AddOption(dhcpv6.OptClientID(duid))
	m.AddOption(dhcpv6.OptRequestedOption(dhcpv6.OptionDNSRecursiveNameServer, dhcpv6.OptionDomainSearchList))
	// Elapsed time is in hundredths of a second, at most 0xffff.
	m.AddOption(dhcpv6.OptElapsedTime(min(elapsed, 655*time.Second)))
	m.AddOption(&dhcpv6.OptIANA{IaId: iaid})
	return m
}

// validateV6 checks one DHCPv6 reply against the SOLICIT that was sent. It returns the valid
// offered addresses and, when (part of) the reply is ignored, the reason.
func validateV6(b []byte, xid dhcpv6.TransactionID, duid dhcpv6.DUID, iaid [4]byte) ([]Offer, string) {
	m, err := dhcpv6.MessageFromBytes(b)
	if err != nil {
		return nil, "malformed: " + err.Error()
	}
	var detail []string
	switch m.Type() {
	case dhcpv6.MessageTypeAdvertise:
	case dhcpv6.MessageTypeReply:
		if m.GetOneOption(dhcpv6.OptionRapidCommit) == nil {
			return nil, "REPLY to a SOLICIT without rapid commit"
		}
		detail = append(detail, "server committed the lease (rapid commit)")
	default:
		return nil, fmt.Sprintf("message type %s, not ADVERTISE", m.Type())
	}
	if m.TransactionID != xid {
		return nil, fmt.Sprintf("wrong transaction ID %s (sent %s)", m.TransactionID, xid)
	}
	if cid := m.Options.ClientID(); cid == nil || !duid.Equal(cid) {
		return nil, fmt.Sprintf("for another client (client ID %v)", cid)
	}
	sid := m.Options.ServerID()
	if sid == nil {
		return nil, "no server ID"
	}
	if st := m.Options.Status(); st != nil && st.StatusCode != iana.StatusSuccess {
		return nil, fmt.Sprintf("status %s: %q", st.StatusCode, st.StatusMessage)
	}
	var ia *dhcpv6.OptIANA
	for _, i := range m.Options.IANA() {
		if i.IaId == iaid {
			ia = i
		}
	}
	if ia == nil {
		return nil, "no IA_NA for our IAID: no address offered"
	}
	if st := ia.Options.Status(); st != nil && st.StatusCode != iana.StatusSuccess {
		return nil, fmt.Sprintf("IA_NA status %s: %q", st.StatusCode, st.StatusMessage)
	}
	detail = append(detail, "server "+sid.String())
	if d := m.Options.DNS(); len(d) > 0 {
		detail = append(detail, fmt.Sprintf("dns %v", d))
	}
	var offers []Offer
	var bad []string
	for _, a := range ia.Options.Addresses() {
		ip, _ := netip.AddrFromSlice(a.IPv6Addr)
		if reason := badV6(ip, a.ValidLifetime, a.PreferredLifetime); reason != "" {
			bad = append(bad, fmt.Sprintf("offers %s: %s", a.IPv6Addr, reason))
			continue
		}
		offers = append(offers, Offer{Kind: KindDHCPv6, Address: netip.PrefixFrom(ip, 128),
			Detail: strings.Join(append([]string{fmt.Sprintf("preferred %v, valid %v", a.PreferredLifetime,
				a.ValidLifetime)}, detail...), ", ")})
	}
	if len(offers) == 0 && len(bad) == 0 {
		return nil, "IA_NA without an address: no address offered"
	}
	return offers, strings.Join(bad, "; ")
}

// ipv4Compatible is the deprecated IPv4-compatible block (RFC 4291 2.5.5.1).
var ipv4Compatible = netip.MustParsePrefix("::/96")

// badV6 says why an address (with its lifetimes) is not one a host may take, or "".
func badV6(a netip.Addr, valid, preferred time.Duration) string {
	switch {
	case !a.Is6():
		return "not an IPv6 address"
	case a.Is4In6():
		return "IPv4-mapped address"
	case a.IsUnspecified():
		return "unspecified address"
	case a.IsLoopback():
		return "loopback address"
	case a.IsMulticast():
		return "multicast address"
	case a.IsLinkLocalUnicast():
		return "link-local address"
	case ipv4Compatible.Contains(a):
		return "reserved (IPv4-compatible) address"
	case valid == 0:
		return "valid lifetime 0"
	case preferred > valid:
		return "preferred lifetime longer than valid lifetime"
	}
	return ""
}
