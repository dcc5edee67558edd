package dhcpprobe

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/mdlayher/ndp"
	"golang.org/x/sys/unix"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

var (
	testMAC  = net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	testXID4 = dhcpv4.TransactionID{1, 2, 3, 4}
	testXID6 = dhcpv6.TransactionID{5, 6, 7}
	testDUID = &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: testMAC}
	testIAID = [4]byte{0x22, 0x33, 0x44, 0x55}
	routerLL = netip.MustParseAddr("fe80::1").WithZone("eth0")
)

// offer4 builds a DHCPOFFER for the test DISCOVER, changed by mods.
func offer4(t testing.TB, mods ...dhcpv4.Modifier) []byte {
	d := discover(testXID4, testMAC, 0)
	r, err := dhcpv4.NewReplyFromRequest(d, append([]dhcpv4.Modifier{
		dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer),
		dhcpv4.WithYourIP(net.ParseIP("192.0.2.100")),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP("192.0.2.1"))),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithLeaseTime(3600),
	}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r.ToBytes()
}

func TestValidateV4(t *testing.T) {
	cases := []struct {
		name   string
		mods   []dhcpv4.Modifier
		reason string // "" = valid
		want   netip.Prefix
	}{
		{"valid", nil, "", netip.MustParsePrefix("192.0.2.100/24")},
		{"slash-32", []dhcpv4.Modifier{dhcpv4.WithNetmask(net.CIDRMask(32, 32))}, "", netip.MustParsePrefix("192.0.2.100/32")},
		{"no-mask", []dhcpv4.Modifier{dhcpv4.WithoutOption(dhcpv4.OptionSubnetMask)}, "", netip.MustParsePrefix("192.0.2.100/32")},
		{"nak", []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeNak)}, "not OFFER", netip.Prefix{}},
		{"ack", []dhcpv4.Modifier{dhcpv4.WithMessageType(dhcpv4.MessageTypeAck)}, "not OFFER", netip.Prefix{}},
		{"xid", []dhcpv4.Modifier{dhcpv4.WithTransactionID(dhcpv4.TransactionID{9, 9, 9, 9})}, "wrong transaction ID", netip.Prefix{}},
		{"chaddr", []dhcpv4.Modifier{dhcpv4.WithHwAddr(net.HardwareAddr{2, 0, 0, 0, 0, 1})}, "another client", netip.Prefix{}},
		{"request", []dhcpv4.Modifier{func(d *dhcpv4.DHCPv4) { d.OpCode = dhcpv4.OpcodeBootRequest }}, "not a BOOTREPLY", netip.Prefix{}},
		{"this-network", []dhcpv4.Modifier{dhcpv4.WithYourIP(net.ParseIP("0.1.2.3"))}, "this network", netip.Prefix{}},
		{"subnet-broadcast", []dhcpv4.Modifier{dhcpv4.WithYourIP(net.ParseIP("192.0.2.255"))}, "broadcast address of 192.0.2.0/24", netip.Prefix{}},
		{"network-address", []dhcpv4.Modifier{dhcpv4.WithYourIP(net.ParseIP("192.0.2.0"))}, "network or broadcast", netip.Prefix{}},
		{"mask-zero", []dhcpv4.Modifier{dhcpv4.WithNetmask(net.CIDRMask(0, 32))}, "invalid netmask", netip.Prefix{}},
		{"mask-short", []dhcpv4.Modifier{dhcpv4.WithGeneric(dhcpv4.OptionSubnetMask, []byte{255, 255})}, "invalid netmask", netip.Prefix{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, reason := validateV4(offer4(t, c.mods...), testXID4, testMAC)
			if c.reason == "" {
				if reason != "" || o.Address != c.want || o.Server != netip.MustParseAddr("192.0.2.1") {
					t.Errorf("got %+v, %q; want %v from 192.0.2.1", o, reason, c.want)
				}
				return
			}
			if !strings.Contains(reason, c.reason) {
				t.Errorf("reason %q, want it to contain %q (offer %+v)", reason, c.reason, o)
			}
		})
	}
	if _, reason := validateV4([]byte("garbage"), testXID4, testMAC); !strings.HasPrefix(reason, "malformed") {
		t.Errorf("garbage: reason %q, want malformed", reason)
	}
}

// advertise6 builds an ADVERTISE for the test SOLICIT offering addr, changed by mods.
func advertise6(t testing.TB, addr string, mods ...dhcpv6.Modifier) []byte {
	sol := solicit(testXID6, testDUID, testIAID, 0)
	m, err := dhcpv6.NewAdvertiseFromSolicit(sol, append([]dhcpv6.Modifier{
		dhcpv6.WithServerID(&dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: net.HardwareAddr{2, 0, 0, 0, 0, 9}}),
		dhcpv6.WithOption(&dhcpv6.OptIANA{IaId: testIAID, Options: dhcpv6.IdentityOptions{Options: dhcpv6.Options{
			&dhcpv6.OptIAAddress{IPv6Addr: net.ParseIP(addr), PreferredLifetime: time.Hour, ValidLifetime: 2 * time.Hour}}}}),
	}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m.ToBytes()
}

func TestValidateV6(t *testing.T) {
	good := advertise6(t, "2001:db8::100")
	if offers, reason := validateV6(good, testXID6, testDUID, testIAID); reason != "" || len(offers) != 1 ||
		offers[0].Address != netip.MustParsePrefix("2001:db8::100/128") {
		t.Errorf("valid advertise: %+v, %q", offers, reason)
	}
	cases := []struct {
		name, reason string
		b            []byte
	}{
		{"xid", "wrong transaction ID", func() []byte {
			m, _ := dhcpv6.MessageFromBytes(good)
			m.TransactionID = dhcpv6.TransactionID{0, 0, 1}
			return m.ToBytes()
		}()},
		{"no-server-id", "no server ID", func() []byte {
			m, _ := dhcpv6.MessageFromBytes(good)
			m.Options.Del(dhcpv6.OptionServerID)
			return m.ToBytes()
		}()},
		{"reply-without-rapid-commit", "without rapid commit", func() []byte {
			m, _ := dhcpv6.MessageFromBytes(good)
			m.MessageType = dhcpv6.MessageTypeReply
			return m.ToBytes()
		}()},
		{"no-addrs", "NoAddrsAvail", func() []byte {
			m, _ := dhcpv6.MessageFromBytes(good)
			m.Options.Del(dhcpv6.OptionIANA)
			m.AddOption(&dhcpv6.OptStatusCode{StatusCode: iana.StatusNoAddrsAvail, StatusMessage: "none left"})
			return m.ToBytes()
		}()},
		{"other-iaid", "no IA_NA for our IAID", func() []byte {
			m, _ := dhcpv6.MessageFromBytes(good)
			m.Options.OneIANA().IaId = [4]byte{9, 9, 9, 9}
			return m.ToBytes()
		}()},
		{"relay", "malformed", []byte{byte(dhcpv6.MessageTypeRelayReply), 0, 0, 0}},
		{"solicit", "not ADVERTISE", solicit(testXID6, testDUID, testIAID, 0).ToBytes()},
		{"ipv4-compatible", "IPv4-compatible", advertise6(t, "::c000:201")},
		{"truncated", "malformed", good[:len(good)-2]},
	}
	for _, c := range cases {
		offers, reason := validateV6(c.b, testXID6, testDUID, testIAID)
		if len(offers) != 0 || !strings.Contains(reason, c.reason) {
			t.Errorf("%s: offers %+v, reason %q; want none and a reason with %q", c.name, offers, reason, c.reason)
		}
	}
	// A rapid-commit REPLY is an offer too (a server that commits at once), flagged in Detail.
	m, _ := dhcpv6.MessageFromBytes(good)
	m.MessageType = dhcpv6.MessageTypeReply
	dhcpv6.WithRapidCommit(m)
	offers, reason := validateV6(m.ToBytes(), testXID6, testDUID, testIAID)
	if reason != "" || len(offers) != 1 || !strings.Contains(offers[0].Detail, "rapid commit") {
		t.Errorf("rapid-commit reply: %+v, %q", offers, reason)
	}
}

// ra builds router advertisement bytes.
func ra(t testing.TB, m *ndp.RouterAdvertisement) []byte {
	b, err := ndp.MarshalMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pio(p string, auto bool, valid, preferred time.Duration) *ndp.PrefixInformation {
	pp := netip.MustParsePrefix(p)
	return &ndp.PrefixInformation{PrefixLength: uint8(pp.Bits()), OnLink: true, AutonomousAddressConfiguration: auto,
		ValidLifetime: valid, PreferredLifetime: preferred, Prefix: pp.Addr()}
}

func TestValidateRA(t *testing.T) {
	good := ra(t, &ndp.RouterAdvertisement{RouterLifetime: time.Minute, Options: []ndp.Option{
		pio("2001:db8:5::/64", true, time.Hour, time.Minute), pio("2001:db8:6::/64", false, time.Hour, time.Minute)}})
	offers, reasons, valid := validateRA(good, 255, routerLL)
	if valid == nil || len(reasons) != 0 || len(offers) != 1 || offers[0].Kind != KindSLAAC ||
		offers[0].Address != netip.MustParsePrefix("2001:db8:5::/64") {
		t.Errorf("good RA: %+v %q %v", offers, reasons, valid)
	}
	cases := []struct {
		name   string
		b      []byte
		hop    int
		src    netip.Addr
		reason string
	}{
		{"hop-limit", good, 64, routerLL, "hop limit 64"},
		{"global-source", good, 255, netip.MustParseAddr("2001:db8::1"), "not a link-local"},
		{"truncated", good[:len(good)-3], 255, routerLL, "malformed"},
		{"withdrawn", ra(t, &ndp.RouterAdvertisement{Options: []ndp.Option{pio("2001:db8:5::/64", true, 0, 0)}}), 255, routerLL, "valid lifetime 0"},
		{"preferred>valid", ra(t, &ndp.RouterAdvertisement{Options: []ndp.Option{pio("2001:db8:5::/64", true, time.Minute, time.Hour)}}), 255, routerLL, "preferred lifetime longer"},
		{"no-address", ra(t, &ndp.RouterAdvertisement{RouterLifetime: time.Minute}), 255, routerLL, "offers no address"},
	}
	for _, c := range cases {
		offers, reasons, _ := validateRA(c.b, c.hop, c.src)
		if len(offers) != 0 || !strings.Contains(strings.Join(reasons, "|"), c.reason) {
			t.Errorf("%s: offers %+v, reasons %q; want none and %q", c.name, offers, reasons, c.reason)
		}
	}
}

func TestTransactionID(t *testing.T) {
	defer func(g func([]byte, int) (int, error)) { getrandom = g }(getrandom)
	id, note := transactionID(4, testMAC)
	if note != "" || len(id) != 4 {
		t.Errorf("ready kernel: id %x, note %q; want 4 random bytes and no note", id, note)
	}
	var flags []int
	getrandom = func(b []byte, flag int) (int, error) {
		flags = append(flags, flag)
		if flag&unix.GRND_NONBLOCK != 0 {
			return 0, unix.EAGAIN
		}
		return len(b), nil
	}
	if _, note := transactionID(3, testMAC); !strings.Contains(note, "not ready") || !strings.Contains(note, "GRND_INSECURE") {
		t.Errorf("pool not ready: note %q, want it to say so and name GRND_INSECURE", note)
	}
	if len(flags) != 2 || flags[0] != unix.GRND_NONBLOCK || flags[1] != unix.GRND_INSECURE {
		t.Errorf("getrandom flags %v, want NONBLOCK then INSECURE (never a blocking call)", flags)
	}
	getrandom = func([]byte, int) (int, error) { return 0, unix.EAGAIN }
	a, note := transactionID(4, testMAC)
	if !strings.Contains(note, "clock, PID and MAC") || len(a) != 4 {
		t.Errorf("no randomness at all: id %x, note %q", a, note)
	}
	time.Sleep(time.Microsecond)
	if b, _ := transactionID(4, testMAC); bytes.Equal(a, b) {
		t.Errorf("fallback IDs repeat: %x", a)
	}
}

// TestProbeWithoutEntropy runs real probes while getrandom acts as at early boot.
func TestProbeWithoutEntropy(t *testing.T) {
	srv, cli := link(t, netnstest.DADOff)
	netnstest.StartDHCPv4(t, netnstest.DHCPv4Config{Link: srv, Server: srv4, Lease: lease4})
	netnstest.StartDHCPv6(t, netnstest.DHCPv6Config{Link: srv, Lease: lease6})
	netnstest.StartRA(t, netnstest.RAConfig{Link: srv, Managed: true})
	defer func(g func([]byte, int) (int, error)) { getrandom = g }(getrandom)
	getrandom = func([]byte, int) (int, error) { return 0, unix.EAGAIN }
	for name, fn := range map[string]func(context.Context, string) Result{"v4": ProbeV4, "v6": ProbeV6} {
		r, took := probe(t, cli, 3*time.Second, fn)
		t.Logf("%s: %v in %v; notes %q", name, r, took, r.Notes)
		if !r.Offered() || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "random pool not ready") {
			t.Errorf("%s: %+v, want an offer and a note on the transaction IDs", name, r)
		}
	}
}
