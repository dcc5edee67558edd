package dhcpprobe

import (
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/mdlayher/ndp"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/fuzztest"
)

// FuzzValidateV4 feeds raw bytes to the DHCPv4 reply validation: it must never panic, and what
// it accepts must be an address a host may take.
func FuzzValidateV4(f *testing.F) {
	fuzztest.LimitMinimizing(f)
	f.Add(offer4(f))
	f.Add(offer4(f, dhcpv4.WithYourIP([]byte{127, 0, 0, 1})))
	f.Add(offer4(f, dhcpv4.WithGeneric(dhcpv4.OptionSubnetMask, []byte{255, 0, 255, 0})))
	f.Add(offer4(f)[:240])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, reason := validateV4(b, testXID4, testMAC)
		if reason != "" {
			if o != (Offer{}) {
				t.Fatalf("ignored (%s) but returned an offer %+v", reason, o)
			}
			return
		}
		if o.Kind != KindDHCPv4 || !o.Address.IsValid() || badV4(o.Address.Addr()) != "" ||
			o.Address.Bits() < 1 || o.Address.Bits() > 32 {
			t.Fatalf("accepted an invalid offer %+v", o)
		}
	})
}

// FuzzValidateV6 does the same for DHCPv6 replies.
func FuzzValidateV6(f *testing.F) {
	fuzztest.LimitMinimizing(f)
	f.Add(advertise6(f, "2001:db8::100"))
	f.Add(advertise6(f, "fe80::1"))
	f.Add(advertise6(f, "::ffff:192.0.2.1"))
	f.Add(solicit(testXID6, testDUID, testIAID, time.Second).ToBytes())
	f.Add([]byte{byte(dhcpv6.MessageTypeAdvertise), 5, 6, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		offers, _ := validateV6(b, testXID6, testDUID, testIAID)
		for _, o := range offers {
			if o.Kind != KindDHCPv6 || o.Address.Bits() != 128 || badV6(o.Address.Addr(), time.Hour, 0) != "" {
				t.Fatalf("accepted an invalid offer %+v", o)
			}
		}
	})
}

// FuzzValidateRA does the same for router advertisements.
func FuzzValidateRA(f *testing.F) {
	fuzztest.LimitMinimizing(f)
	f.Add(ra(f, &ndp.RouterAdvertisement{ManagedConfiguration: true, Options: []ndp.Option{
		pio("2001:db8:5::/64", true, time.Hour, time.Minute), pio("fe80::/64", true, time.Hour, time.Minute)}}))
	f.Add(ra(f, &ndp.RouterAdvertisement{OtherConfiguration: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		offers, reasons, ra := validateRA(b, 255, routerLL)
		if ra == nil && len(offers) > 0 {
			t.Fatalf("invalid RA (%q) with offers %+v", reasons, offers)
		}
		for _, o := range offers {
			switch o.Kind {
			case KindSLAAC:
				p := o.Address
				if p.Bits() != 64 || badPrefix(&ndp.PrefixInformation{Prefix: p.Addr(), PrefixLength: 64,
					ValidLifetime: 1, PreferredLifetime: 0}) != "" {
					t.Fatalf("accepted an invalid prefix %+v", o)
				}
			case KindRA:
				if !o.Managed && !o.Other || o.Address != (netip.Prefix{}) {
					t.Fatalf("ra offer without M or O, or with an address: %+v", o)
				}
			default:
				t.Fatalf("unknown kind %+v", o)
			}
		}
	})
}
