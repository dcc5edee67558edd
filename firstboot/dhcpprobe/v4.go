package dhcpprobe

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/insomniacslk/dhcp/iana"
)

// grace is how long a probe keeps listening for more offers after the first valid one.
const grace = 150 * time.Millisecond

// maxSends bounds the DHCPDISCOVERs (or SOLICITs, router solicitations) one probe sends; the
// first resend is after 1 s and the interval doubles.
const maxSends = 4

// ProbeV4 broadcasts a DHCPDISCOVER on ifname and reports the valid DHCPOFFERs. It never sends a
// DHCPREQUEST, so no lease is taken. It works on an interface without any IPv4 address (it uses a
// raw packet socket, which needs CAP_NET_RAW); the interface must be up.
func ProbeV4(ctx context.Context, ifname string) Result {
	res := Result{Interface: ifname}
	ctx, cancel := bounded(ctx)
	defer cancel()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		res.errorf("dhcpv4: %v", err)
		return res
	}
	mac := ifi.HardwareAddr
	if len(mac) != 6 {
		res.errorf("dhcpv4: %s has no Ethernet address (hardware address %q)", ifname, mac.String())
		return res
	}
	conn, err := nclient4.NewRawUDPConn(ifname, dhcpv4.ClientPort)
	if err != nil {
		res.errorf("dhcpv4: raw socket on %s: %v", ifname, err)
		return res
	}
	defer conn.Close()
	// Closing the socket ends a blocked read at once when ctx is cancelled.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	id, note := transactionID(4, mac)
	if note != "" {
		res.Notes = append(res.Notes, "dhcpv4: "+note)
	}
	var xid dhcpv4.TransactionID
	copy(xid[:], id)
	x := exchange{ctx: ctx, res: &res, kind: "dhcpv4", conn: conn,
		dst: &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}}
	start := time.Now()
	x.run(func() []byte {
		return discover(xid, mac, time.Since(start)).ToBytes()
	}, func(b []byte, src net.Addr) ([]Offer, string) {
		o, reason := validateV4(b, xid, mac)
		if reason != "" {
			return nil, reason
		}
		if u, ok := src.(*net.UDPAddr); ok && !o.Server.IsValid() {
			o.Server, _ = netip.AddrFromSlice(u.IP)
			o.Server = o.Server.Unmap()
		}
		return []Offer{o}, ""
	})
	return res
}

// discover builds a DHCPDISCOVER with an explicit transaction ID (dhcpv4.NewDiscovery would
// read crypto/rand, which may block at early boot).
func discover(xid dhcpv4.TransactionID, mac net.HardwareAddr, elapsed time.Duration) *dhcpv4.DHCPv4 {
	d := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootRequest,
		HWType:        iana.HWTypeEthernet,
		TransactionID: xid,
		NumSeconds:    uint16(min(elapsed/time.Second, 0xffff)),
		ClientHWAddr:  mac,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: net.IPv4zero,
		Options:       make(dhcpv4.Options),
	}
	// Ask for a broadcast reply: we have no address to receive a unicast one on.
	d.SetBroadcast()
	d.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeDiscover))
	d.UpdateOption(dhcpv4.OptParameterRequestList(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter,
		dhcpv4.OptionDomainNameServer, dhcpv4.OptionDomainName))
	return d
}

// validateV4 checks one DHCPv4 reply against the DISCOVER that was sent (transaction ID xid
// from mac). It returns the offer, or the reason the reply is ignored.
func validateV4(b []byte, xid dhcpv4.TransactionID, mac net.HardwareAddr) (Offer, string) {
	m, err := dhcpv4.FromBytes(b)
	if err != nil {
		return Offer{}, "malformed: " + err.Error()
	}
	if m.OpCode != dhcpv4.OpcodeBootReply {
		return Offer{}, "not a BOOTREPLY (op " + m.OpCode.String() + ")"
	}
	if m.TransactionID != xid {
		return Offer{}, fmt.Sprintf("wrong transaction ID %s (sent %s)", m.TransactionID, xid)
	}
	if !bytes.Equal(m.ClientHWAddr, mac) {
		return Offer{}, fmt.Sprintf("for another client (chaddr %s)", m.ClientHWAddr)
	}
	if mt := m.MessageType(); mt != dhcpv4.MessageTypeOffer {
		return Offer{}, fmt.Sprintf("message type %s, not OFFER", mt)
	}
	yi, ok := netip.AddrFromSlice(m.YourIPAddr)
	if reason := badV4(yi.Unmap()); !ok || reason != "" {
		return Offer{}, fmt.Sprintf("offers %s: %s", m.YourIPAddr, reason)
	}
	yi = yi.Unmap()
	bits, detail := 32, []string{}
	if o := m.Options.Get(dhcpv4.OptionSubnetMask); o == nil {
		detail = append(detail, "no subnet mask")
	} else {
		ones, size := net.IPMask(o).Size()
		if size != 32 || ones == 0 {
			return Offer{}, fmt.Sprintf("offers %s with an invalid netmask %s", yi, net.IP(o))
		}
		bits = ones
	}
	if p := netip.PrefixFrom(yi, bits); bits <= 30 && (yi == p.Masked().Addr() || yi == lastAddr(p)) {
		return Offer{}, fmt.Sprintf("offers %s, the network or broadcast address of %s", yi, p.Masked())
	}
	o := Offer{Kind: KindDHCPv4, Address: netip.PrefixFrom(yi, bits)}
	if s, ok := netip.AddrFromSlice(m.ServerIdentifier()); ok && !s.Unmap().IsUnspecified() {
		o.Server = s.Unmap()
	}
	detail = append(detail, "lease "+m.IPAddressLeaseTime(0).String())
	if r := m.Router(); len(r) > 0 {
		detail = append(detail, fmt.Sprintf("router %v", r))
	}
	if d := m.DNS(); len(d) > 0 {
		detail = append(detail, fmt.Sprintf("dns %v", d))
	}
	o.Detail = strings.Join(detail, ", ")
	return o, ""
}

// badV4 says why a is not an address a host may take, or "".
func badV4(a netip.Addr) string {
	switch {
	case !a.Is4():
		return "not an IPv4 address"
	case a.IsUnspecified():
		return "unspecified address"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast address"
	case a.IsLoopback():
		return "loopback address"
	case a.IsMulticast():
		return "multicast address"
	case a.IsLinkLocalUnicast():
		return "link-local address"
	case a.As4()[0] >= 240:
		return "reserved (class E) address"
	case a.As4()[0] == 0:
		return `"this network" address (0.0.0.0/8)`
	}
	return ""
}

// lastAddr returns the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(a)
}
