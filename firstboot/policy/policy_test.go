package policy

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netstate"
)

// defaultIgnore is the helper's default ignore_interfaces.
var defaultIgnore = []string{"docker*", "br-*", "virbr*", "veth*", "cni*", "flannel*", "cali*", "tun*", "tap*"}

// fixture loads a real capture from netstate's testdata; withRoutes false leaves the routes out.
func fixture(t testing.TB, name string, withRoutes bool) netstate.Snapshot {
	t.Helper()
	dir := filepath.Join("..", "netstate", "testdata", name)
	routes := ""
	if withRoutes {
		routes = filepath.Join(dir, "routes.json")
	}
	s, err := netstate.Load(filepath.Join(dir, "addrs.json"), routes)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type want struct {
	family, addr, iface string
	degraded            bool
	err                 string   // substring of Error
	reasons             []string // each a substring of some reason
	warnings            []string // each a substring of some warning
}

func check(t *testing.T, d Decision, w want) {
	t.Helper()
	if (d.Family == "") != (d.Error != "") {
		t.Errorf("Family %q with Error %q: exactly one must be set", d.Family, d.Error)
	}
	if d.Decided() && (!d.Address.IsValid() || d.Address.IsUnspecified() || d.Interface == "") {
		t.Errorf("decided without a real address: %+v", d)
	}
	got := want{family: d.Family, iface: d.Interface, degraded: d.Degraded}
	if d.Address.IsValid() {
		got.addr = d.Address.String()
	}
	if got.family != w.family || got.addr != w.addr || got.iface != w.iface || got.degraded != w.degraded {
		t.Errorf("decided %s %s on %s degraded=%v, want %s %s on %s degraded=%v\nreasons: %q",
			got.family, got.addr, got.iface, got.degraded, w.family, w.addr, w.iface, w.degraded, d.Reasons)
	}
	if w.err == "" && d.Error != "" || !strings.Contains(d.Error, w.err) {
		t.Errorf("Error = %q, want it to contain %q", d.Error, w.err)
	}
	for _, r := range w.reasons {
		if !slices.ContainsFunc(d.Reasons, func(s string) bool { return strings.Contains(s, r) }) {
			t.Errorf("no reason contains %q; reasons:\n  %s", r, strings.Join(d.Reasons, "\n  "))
		}
	}
	for _, r := range w.warnings {
		if !slices.ContainsFunc(d.Warnings, func(s string) bool { return strings.Contains(s, r) }) {
			t.Errorf("no warning contains %q; warnings: %q", r, d.Warnings)
		}
	}
	if d.Family == IPv6 != slices.Contains(d.Warnings, WebSocketWarning) {
		t.Errorf("family %q with warnings %q: the WebSocket warning goes with IPv6 exactly", d.Family, d.Warnings)
	}
}

func TestDecideFixtures(t *testing.T) {
	forced := Input{ForceIPv6: true, IgnoreInterfaces: defaultIgnore}
	forcedFail := Input{ForceIPv6: true, OnMissingIPv6: config.Fail, IgnoreInterfaces: defaultIgnore}
	plain := Input{IgnoreInterfaces: defaultIgnore}
	tests := []struct {
		name, fixture string
		noRoutes      bool
		in            Input
		want          want
	}{
		{"ipv4 only", "ipv4-only", false, plain, want{family: IPv4, addr: "192.0.2.10", iface: "eth0", reasons: []string{
			"chose 192.0.2.10 on eth0: IPv4 preferred when not forced, eth0 has the IPv4 default route",
			"fe80::ff:fe00:1 on eth0 is link-local", "ignored lo: loopback", "no IPv6 default route"}}},
		{"ipv4 only, forced: fallback", "ipv4-only", false, forced, want{family: IPv4, addr: "192.0.2.10", iface: "eth0", degraded: true,
			reasons: []string{"IPv6 forced but no usable IPv6 address; on_missing_ipv6 is fallback"}, warnings: []string{"degraded"}}},
		{"ipv4 only, forced: explicit fallback", "ipv4-only", false, Input{ForceIPv6: true, OnMissingIPv6: config.Fallback}, want{family: IPv4, addr: "192.0.2.10", iface: "eth0", degraded: true}},
		{"ipv4 only, forced: fail", "ipv4-only", false, forcedFail, want{err: "on_missing_ipv6 is fail"}},
		{"ipv6 only (SLAAC)", "ipv6-slaac", false, plain, want{family: IPv6, addr: "2001:db8:1::ff:fe00:2", iface: "eth0",
			reasons: []string{"no usable IPv4 address (an IPv6-only network), eth0 has the IPv6 default route"}}},
		{"ipv6 only, forced, fail allowed", "ipv6-slaac", false, forcedFail, want{family: IPv6, addr: "2001:db8:1::ff:fe00:2", iface: "eth0", reasons: []string{"IPv6 forced (force_ipv6)"}}},
		{"dual-stack", "dual-stack", false, plain, want{family: IPv4, addr: "192.0.2.10", iface: "eth0"}},
		{"dual-stack, forced", "dual-stack", false, forced, want{family: IPv6, addr: "2001:db8:1::ff:fe00:3", iface: "eth0",
			reasons: []string{"chose 2001:db8:1::ff:fe00:3 on eth0: IPv6 forced (force_ipv6), eth0 has the IPv6 default route"}}},
		{"tentative, forced", "tentative", false, forced, want{family: IPv4, addr: "192.0.2.10", iface: "eth0", degraded: true,
			reasons: []string{"2001:db8:1::10 on eth0 is tentative (DAD not finished)"}}},
		{"tentative, forced, fail", "tentative", false, forcedFail, want{err: "no usable IPv6", reasons: []string{"is tentative"}}},
		{"dadfailed, forced", "dadfailed", false, forced, want{family: IPv4, addr: "192.0.2.10", iface: "eth0", degraded: true,
			reasons: []string{"2001:db8:1::10 on eth0 failed duplicate address detection (dadfailed)"}}},
		{"deprecated", "deprecated", false, plain, want{family: IPv6, addr: "2001:db8:1::21", iface: "eth0",
			reasons: []string{"2001:db8:1::20 on eth0 is deprecated (preferred lifetime 0)"}}},
		{"temporary", "temporary", false, forced, want{family: IPv6, addr: "2001:db8:1::ff:fe00:7", iface: "eth0",
			reasons: []string{"is a temporary (privacy) address"}}},
		{"global before ULA", "ula-global", false, plain, want{family: IPv6, addr: "2001:db8:1::10", iface: "eth0",
			reasons: []string{"global unicast before ULA fd00:1::10"}}},
		{"docker bridge ignored", "docker-bridge", false, plain, want{family: IPv4, addr: "192.0.2.10", iface: "eth0",
			reasons: []string{"ignored docker0: matches ignore_interfaces pattern docker*", "ignored vethd0c1: matches ignore_interfaces pattern veth*"}}},
		{"docker bridge not ignored, no routes: lower ifindex wins", "docker-bridge", true, Input{}, want{family: IPv4, addr: "172.17.0.1", iface: "docker0",
			reasons: []string{"docker0 (ifindex 2) before eth0 (ifindex 5)", "there is no usable IPv4 default route"}}},
		{"docker bridge not ignored: default route wins", "docker-bridge", false, Input{}, want{family: IPv4, addr: "192.0.2.10", iface: "eth0",
			reasons: []string{"eth0 has the IPv4 default route, 172.17.0.1 on docker0 is not on it"}}},
		{"pin beats ignore", "docker-bridge", false, Input{Interface: "docker0", IgnoreInterfaces: defaultIgnore}, want{family: IPv4, addr: "172.17.0.1", iface: "docker0",
			reasons: []string{"ignored eth0: only docker0 counts (interface setting)"}}},
		{"two NICs: default route on the second", "two-nics", false, plain, want{family: IPv4, addr: "198.51.100.10", iface: "eth1",
			reasons: []string{"chose 198.51.100.10 on eth1: IPv4 preferred when not forced, eth1 has the IPv4 default route, 192.0.2.10 on eth0 is not on it"}}},
		{"two NICs, forced", "two-nics", false, forced, want{family: IPv6, addr: "2001:db8:2::10", iface: "eth1"}},
		{"two NICs, pinned eth0", "two-nics", false, Input{Interface: "eth0"}, want{family: IPv4, addr: "192.0.2.10", iface: "eth0",
			reasons: []string{"ignored eth1: only eth0 counts (interface setting)"}}},
		{"two NICs, no routes", "two-nics", true, plain, want{family: IPv4, addr: "192.0.2.10", iface: "eth0", reasons: []string{"eth0 (ifindex 2) before eth1 (ifindex 3)"}}},
		{"two NICs, eth1 ignored", "two-nics", false, Input{IgnoreInterfaces: []string{"eth[1-9]"}}, want{family: IPv4, addr: "192.0.2.10", iface: "eth0",
			reasons: []string{"ignored eth1: matches ignore_interfaces pattern eth[1-9]"}}},
		{"links down", "link-down", false, plain, want{err: "no usable", reasons: []string{
			"ignored eth0: link is administratively down", "ignored eth1: link is down (no carrier, operstate LOWERLAYERDOWN)"}}},
		{"links down, forced", "link-down", false, forced, want{err: "no usable"}},
		{"loopback only", "loopback-only", false, plain, want{err: "no usable", reasons: []string{"ignored lo: loopback"}}},
		{"pinned interface missing", "ipv4-only", false, Input{Interface: "eth9"}, want{err: "no usable", warnings: []string{"interface eth9 (the interface setting) does not exist"}}},
		{"bad on_missing_ipv6", "ipv4-only", false, Input{OnMissingIPv6: "maybe"}, want{err: `on_missing_ipv6 "maybe"`}},
		{"bad ignore pattern", "ipv4-only", false, Input{IgnoreInterfaces: []string{"eth["}}, want{family: IPv4, addr: "192.0.2.10", iface: "eth0",
			warnings: []string{`pattern "eth[" is malformed`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, Decide(fixture(t, tt.fixture, !tt.noRoutes), tt.in), tt.want)
		})
	}
}

// snap builds a one-link-per-entry snapshot: each link up, addresses global scope unless noted.
func link(index int, name string, addrs ...netstate.Addr) netstate.Link {
	return netstate.Link{Index: index, Name: name, Up: true, AdminUp: true, LowerUp: true, OperState: "UP", Addrs: addrs}
}

func a(prefix string) netstate.Addr {
	return netstate.Addr{Prefix: netip.MustParsePrefix(prefix), Scope: "global", ValidLifetime: netstate.Forever, PreferredLifetime: netstate.Forever}
}

func TestDecideSynthetic(t *testing.T) {
	host := a("10.9.9.9/32")
	host.Scope = "host"
	optimistic := a("2001:db8::7/64")
	optimistic.Tentative, optimistic.Optimistic = true, true
	tests := []struct {
		name string
		s    netstate.Snapshot
		in   Input
		want want
	}{
		{"never a zero, broadcast, multicast, loopback or mapped address", netstate.Snapshot{Links: []netstate.Link{link(2, "eth0",
			netstate.Addr{}, a("0.0.0.0/0"), a("::/0"), a("255.255.255.255/32"), a("224.0.0.1/32"), a("ff02::1/128"),
			a("127.0.0.2/8"), a("::1/128"), a("::ffff:192.0.2.1/128"), a("::d44e:8eff:fec1:4df0/64"))}}, Input{},
			want{err: "no usable", reasons: []string{"0.0.0.0 on eth0 is not a routable unicast address", ":: on eth0 is not a routable",
				"::ffff:192.0.2.1 on eth0 is not a routable", "invalid IP on eth0 is not a valid address",
				"::d44e:8eff:fec1:4df0 on eth0 is not a routable"}}},
		{"IPv4 link-local and host scope", netstate.Snapshot{Links: []netstate.Link{link(2, "eth0", a("169.254.3.4/16"), host, a("fe80::1/64"))}}, Input{},
			want{err: "no usable", reasons: []string{"169.254.3.4 on eth0 is link-local", "10.9.9.9 on eth0 has host scope", "fe80::1 on eth0 is link-local"}}},
		{"optimistic DAD is still tentative", netstate.Snapshot{Links: []netstate.Link{link(2, "eth0", optimistic)}}, Input{ForceIPv6: true, OnMissingIPv6: config.Fail},
			want{err: "no usable IPv6", reasons: []string{"2001:db8::7 on eth0 is tentative (optimistic DAD not finished)"}}},
		{"listed order breaks the last tie", netstate.Snapshot{Links: []netstate.Link{link(2, "eth0", a("192.0.2.20/24"), a("192.0.2.10/24"))}}, Input{},
			want{family: IPv4, addr: "192.0.2.20", iface: "eth0", reasons: []string{"listed before 192.0.2.10 on eth0", "there is no usable IPv4 default route"}}},
		{"lowest metric default route counts", netstate.Snapshot{
			Links:  []netstate.Link{link(2, "eth0", a("192.0.2.10/24")), link(3, "eth1", a("198.51.100.10/24"))},
			Routes: []netstate.Route{{Dev: "eth0", Metric: 200}, {Dev: "eth1", Metric: 100}, {IPv6: true, Dev: "eth0"}},
		}, Input{}, want{family: IPv4, addr: "198.51.100.10", iface: "eth1", reasons: []string{"eth1 has the IPv4 default route"}}},
		{"down link's default route does not pull", netstate.Snapshot{
			Links:  []netstate.Link{link(2, "eth0", a("192.0.2.10/24")), {Index: 3, Name: "eth1", AdminUp: true, NoCarrier: true, OperState: "DOWN", Addrs: []netstate.Addr{a("198.51.100.10/24")}}},
			Routes: []netstate.Route{{Dev: "eth1"}},
		}, Input{}, want{family: IPv4, addr: "192.0.2.10", iface: "eth0", reasons: []string{"ignored eth1: link is down (no carrier, operstate DOWN)", "the only usable IPv4 address"}}},
		{"lower ifindex beats listed order", netstate.Snapshot{Links: []netstate.Link{link(7, "eth1", a("198.51.100.10/24")), link(3, "eth0", a("192.0.2.10/24"))}}, Input{},
			want{family: IPv4, addr: "192.0.2.10", iface: "eth0", reasons: []string{"eth0 (ifindex 3) before eth1 (ifindex 7)"}}},
		{"empty snapshot", netstate.Snapshot{}, Input{ForceIPv6: true}, want{err: "no usable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, Decide(tt.s, tt.in), tt.want) })
	}
}

func TestCandidatesOrder(t *testing.T) {
	s := netstate.Snapshot{
		Links: []netstate.Link{
			link(2, "eth0", a("fd00::2/64"), a("2001:db8:2::1/64"), a("192.0.2.2/24")),
			link(3, "eth1", a("fd00::3/64"), a("2001:db8:3::1/64"), a("2001:db8:3::2/64"), a("198.51.100.3/24")),
			link(4, "eth2", a("2001:db8:4::1/64"), a("203.0.113.4/24")),
		},
		Routes: []netstate.Route{{IPv6: true, Dev: "eth1"}},
	}
	addrs := func(c []Candidate) []string {
		var out []string
		for _, x := range c {
			out = append(out, x.Addr.String()+"@"+x.Interface)
		}
		return out
	}
	v6 := addrs(Candidates(s, Input{}, true))
	want6 := []string{"2001:db8:3::1@eth1", "2001:db8:3::2@eth1", "fd00::3@eth1", "2001:db8:2::1@eth0", "2001:db8:4::1@eth2", "fd00::2@eth0"}
	if !slices.Equal(v6, want6) {
		t.Errorf("IPv6 candidates %q, want %q", v6, want6)
	}
	v4 := addrs(Candidates(s, Input{IgnoreInterfaces: []string{"eth0"}}, false))
	if want4 := []string{"198.51.100.3@eth1", "203.0.113.4@eth2"}; !slices.Equal(v4, want4) {
		t.Errorf("IPv4 candidates %q, want %q", v4, want4)
	}
	c := Candidates(s, Input{Interface: "eth2"}, true)
	if len(c) != 1 || c[0] != (Candidate{Addr: netip.MustParseAddr("2001:db8:4::1"), Prefix: netip.MustParsePrefix("2001:db8:4::1/64"), Interface: "eth2", Index: 4}) {
		t.Errorf("pinned eth2: %+v", c)
	}
}

// Held keeps the global addresses that DAD alone holds back, with the words Decide uses; a
// tentative link-local address, or one that is unusable for another reason too, is not held.
func TestHeld(t *testing.T) {
	flagged := func(p string, set func(*netstate.Addr)) netstate.Addr { x := a(p); set(&x); return x }
	tentative := func(x *netstate.Addr) { x.Tentative = true }
	s := netstate.Snapshot{Links: []netstate.Link{
		link(2, "eth0", a("192.0.2.2/24"), flagged("fe80::2/64", tentative), flagged("2001:db8:2::1/64", tentative),
			flagged("2001:db8:2::2/64", func(x *netstate.Addr) { x.Tentative, x.Optimistic = true, true }),
			flagged("2001:db8:2::3/64", func(x *netstate.Addr) { x.Tentative, x.Deprecated = true, true })),
		link(3, "eth1", flagged("2001:db8:3::1/64", func(x *netstate.Addr) { x.Tentative, x.DADFailed = true, true }), a("2001:db8:3::2/64")),
	}}
	var got []string
	for _, h := range Held(s, Input{}, true) {
		got = append(got, fmt.Sprintf("%s@%s failed=%t %s", h.Addr, h.Interface, h.Failed, h.Why))
	}
	want := []string{
		"2001:db8:2::1@eth0 failed=false is tentative (DAD not finished)",
		"2001:db8:2::2@eth0 failed=false is tentative (optimistic DAD not finished)",
		"2001:db8:3::1@eth1 failed=true failed duplicate address detection (dadfailed): another host on the link has it",
	}
	if !slices.Equal(got, want) {
		t.Errorf("held %q, want %q", got, want)
	}
	if h := Held(s, Input{}, false); len(h) != 0 {
		t.Errorf("IPv4 held: %+v", h)
	}
	if h := Held(s, Input{Interface: "eth1"}, true); len(h) != 1 || h[0].Interface != "eth1" {
		t.Errorf("pinned eth1: %+v", h)
	}
	// A real capture: the tentative SLAAC-like address on eth0.
	if h := Held(fixture(t, "tentative", true), Input{}, true); len(h) != 1 || h[0].Addr.String() != "2001:db8:1::10" || h[0].Failed {
		t.Errorf("tentative capture: %+v", h)
	}
}

// tenLinks is a 10-interface host: loopback, docker, down links, and mixed families and flags.
func tenLinks() netstate.Snapshot {
	flagged := func(p string, set func(*netstate.Addr)) netstate.Addr { x := a(p); set(&x); return x }
	s := netstate.Snapshot{Routes: []netstate.Route{{Dev: "eth3", Gateway: netip.MustParseAddr("192.0.2.1")}, {IPv6: true, Dev: "eth3", Metric: 1024}}}
	lo := link(1, "lo", a("127.0.0.1/8"), a("::1/128"))
	lo.Loopback = true
	s.Links = append(s.Links, lo, link(2, "docker0", a("172.17.0.1/16"), a("fe80::42:1/64")))
	for i := 3; i <= 10; i++ {
		name := "eth" + string(rune('0'+i-3))
		l := link(i, name,
			a("10.0."+string(rune('0'+i-3))+".5/24"),
			flagged("2001:db8:"+string(rune('0'+i-3))+"::5/64", func(x *netstate.Addr) { x.Tentative = i%2 == 0 }),
			flagged("2001:db8:"+string(rune('0'+i-3))+"::6/64", func(x *netstate.Addr) { x.Temporary = i%3 == 0 }),
			a("fd00:"+string(rune('0'+i-3))+"::5/64"),
			a("fe80::"+string(rune('0'+i-3))+":1/64"))
		l.Up = i != 7
		s.Links = append(s.Links, l)
	}
	return s
}

func BenchmarkDecide10(b *testing.B) {
	s := tenLinks()
	in := Input{ForceIPv6: true, IgnoreInterfaces: defaultIgnore}
	if d := Decide(s, in); d.Family != IPv6 || d.Interface != "eth3" {
		b.Fatalf("unexpected decision %+v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		Decide(s, in)
	}
}
