package netdata

import (
	"slices"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/fuzztest"
)

// FuzzParse: any bytes from a config drive or the metadata service give families or an error,
// never a panic; each family lists only its own types, once each, and the summary stays about
// the size of the input.
func FuzzParse(f *testing.F) {
	fuzztest.LimitMinimizing(f)
	for _, s := range []string{
		`{}`,
		`{"links":[{"id":"tap1"}],"networks":[{"type":"ipv4_dhcp"},{"type":"ipv6_slaac"}]}`,
		`{"links":[{}],"networks":[{"type":"IPV6_DHCPV6-STATEFUL"},{"type":"ipv6"},{"type":"ipv6"}]}`,
		`{"links":[],"networks":null}`,
		`{"networks":[{"type":7}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fam, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		for _, side := range []struct {
			types  []string
			prefix string
		}{{fam.IPv4, "ipv4"}, {fam.IPv6, "ipv6"}} {
			for i, ty := range side.types {
				if !strings.HasPrefix(ty, side.prefix) || slices.Contains(side.types[i+1:], ty) {
					t.Fatalf("%s types %q: %q is not its own, or listed twice", side.prefix, side.types, ty)
				}
			}
		}
		if n := len(fam.Summary()); n > 2*len(data)+200 {
			t.Fatalf("summary of %d bytes for %d bytes of input", n, len(data))
		}
	})
}
