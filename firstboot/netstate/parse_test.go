package netstate

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/fuzztest"
)

func fixture(t testing.TB, name string) Snapshot {
	t.Helper()
	s, err := Load(filepath.Join("testdata", name, "addrs.json"), filepath.Join("testdata", name, "routes.json"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// addr finds the address ip in s, failing the test when it is absent.
func addr(t *testing.T, s Snapshot, ip string) (Link, Addr) {
	t.Helper()
	want := netip.MustParseAddr(ip)
	for _, l := range s.Links {
		for _, a := range l.Addrs {
			if a.Prefix.Addr() == want {
				return l, a
			}
		}
	}
	t.Fatalf("%s not in snapshot", ip)
	return Link{}, Addr{}
}

func TestParseAddrsFixtures(t *testing.T) {
	forever := uint32(Forever)
	tests := []struct {
		fixture, ip string
		want        Addr
	}{
		{"ipv4-only", "192.0.2.10", Addr{Prefix: netip.MustParsePrefix("192.0.2.10/24"), Scope: "global", Dynamic: true, ValidLifetime: 3600, PreferredLifetime: 3600}},
		{"ipv4-only", "fe80::ff:fe00:1", Addr{Prefix: netip.MustParsePrefix("fe80::ff:fe00:1/64"), Scope: "link", ValidLifetime: forever, PreferredLifetime: forever}},
		{"ipv4-only", "127.0.0.1", Addr{Prefix: netip.MustParsePrefix("127.0.0.1/8"), Scope: "host", ValidLifetime: forever, PreferredLifetime: forever}},
		{"tentative", "2001:db8:1::10", Addr{Prefix: netip.MustParsePrefix("2001:db8:1::10/64"), Scope: "global", Tentative: true, ValidLifetime: forever, PreferredLifetime: forever}},
		{"dadfailed", "2001:db8:1::10", Addr{Prefix: netip.MustParsePrefix("2001:db8:1::10/64"), Scope: "global", Tentative: true, DADFailed: true, ValidLifetime: forever, PreferredLifetime: forever}},
		{"deprecated", "2001:db8:1::20", Addr{Prefix: netip.MustParsePrefix("2001:db8:1::20/64"), Scope: "global", Deprecated: true, Dynamic: true, ValidLifetime: 7200}},
		{"deprecated", "2001:db8:1::21", Addr{Prefix: netip.MustParsePrefix("2001:db8:1::21/64"), Scope: "global", Dynamic: true, ValidLifetime: 7200, PreferredLifetime: 3600}},
		{"ipv6-slaac", "2001:db8:1::ff:fe00:2", Addr{Prefix: netip.MustParsePrefix("2001:db8:1::ff:fe00:2/64"), Scope: "global", Dynamic: true, ValidLifetime: 86400, PreferredLifetime: 14400}},
		{"ula-global", "fd00:1::10", Addr{Prefix: netip.MustParsePrefix("fd00:1::10/64"), Scope: "global", ValidLifetime: forever, PreferredLifetime: forever}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture+"/"+tt.ip, func(t *testing.T) {
			_, got := addr(t, fixture(t, tt.fixture), tt.ip)
			if got.PreferredLifetime != forever && got.PreferredLifetime != 0 && tt.want.PreferredLifetime != forever {
				got.PreferredLifetime = tt.want.PreferredLifetime // captured lifetimes had ticked
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseAddrsTemporary(t *testing.T) {
	s := fixture(t, "temporary")
	l, _ := s.Link("eth0")
	var temp, mng int
	for _, a := range l.Addrs {
		if a.Prefix.Addr().Is6() && a.Scope == "global" {
			if a.Temporary {
				temp++
			} else {
				mng++
			}
		}
	}
	if temp != 1 || mng != 1 {
		t.Errorf("eth0: %d temporary and %d other global addresses, want 1 and 1: %+v", temp, mng, l.Addrs)
	}
}

func TestParseAddrsLinks(t *testing.T) {
	tests := []struct {
		fixture, link string
		want          Link // Addrs not compared
	}{
		{"loopback-only", "lo", Link{Index: 1, Name: "lo", Up: true, Loopback: true, AdminUp: true, LowerUp: true, OperState: "UNKNOWN"}},
		{"ipv4-only", "eth0", Link{Index: 2, Name: "eth0", Up: true, AdminUp: true, LowerUp: true, OperState: "UP"}},
		{"link-down", "eth0", Link{Index: 2, Name: "eth0", OperState: "DOWN"}},
		{"link-down", "eth1", Link{Index: 3, Name: "eth1", AdminUp: true, NoCarrier: true, OperState: "LOWERLAYERDOWN"}},
		{"docker-bridge", "docker0", Link{Index: 2, Name: "docker0", Up: true, AdminUp: true, LowerUp: true, OperState: "UP"}},
		{"two-nics", "eth1", Link{Index: 3, Name: "eth1", Up: true, AdminUp: true, LowerUp: true, OperState: "UP"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture+"/"+tt.link, func(t *testing.T) {
			got, ok := fixture(t, tt.fixture).Link(tt.link)
			got.Addrs = nil
			if !ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// The -d and dev forms describe the same eth0 as plain `ip -j addr show`.
func TestParseAddrsVariants(t *testing.T) {
	eth0, _ := fixture(t, "dual-stack").Link("eth0")
	for _, f := range []string{"addrs-d.json", "addrs-dev.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "dual-stack", f))
		if err != nil {
			t.Fatal(err)
		}
		links, err := ParseAddrs(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got, ok := Snapshot{Links: links}.Link("eth0")
		for i := range got.Addrs { // lifetimes ticked between the captures
			if i < len(eth0.Addrs) {
				got.Addrs[i].ValidLifetime, got.Addrs[i].PreferredLifetime = eth0.Addrs[i].ValidLifetime, eth0.Addrs[i].PreferredLifetime
			}
		}
		if !ok || !reflect.DeepEqual(got, eth0) {
			t.Errorf("%s: eth0 = %+v\nwant %+v", f, got, eth0)
		}
	}
}

func TestParseAddrsQuirks(t *testing.T) {
	// ip -j -4 addr show prints {} for each hidden IPv6 address; a link may have no addr_info.
	links, err := ParseAddrs([]byte(`[{"ifindex":2,"ifname":"eth0","flags":["UP"],"operstate":"UP",
		"addr_info":[{},{"family":"inet","local":"192.0.2.1","prefixlen":24,"scope":"global"},{}]},
		{"ifindex":3,"ifname":"eth1","flags":[],"operstate":"DOWN"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 2 || len(links[0].Addrs) != 1 || links[0].Addrs[0].ValidLifetime != Forever || links[1].Addrs != nil {
		t.Errorf("got %+v", links)
	}
	// preferred_life_time 0 is deprecated even without the flag.
	links, err = ParseAddrs([]byte(`[{"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet6","local":"2001:db8::1","prefixlen":64,"preferred_life_time":0}]}]`))
	if err != nil || !links[0].Addrs[0].Deprecated {
		t.Errorf("preferred_life_time 0: %+v, %v", links, err)
	}
	if links, err = ParseAddrs([]byte(" []\n")); err != nil || len(links) != 0 {
		t.Errorf("empty array: %v, %v", links, err)
	}
}

func TestParseAddrsErrors(t *testing.T) {
	link := func(addr string) string {
		return `[{"ifindex":2,"ifname":"eth0","flags":["UP"],"operstate":"UP","addr_info":[` + addr + `]}]`
	}
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"spaces", " \n\t", "empty"},
		{"not JSON", "inet 192.0.2.1/24", "not ip -j JSON"},
		{"object", `{"ifindex":1}`, `want a JSON array, found "{"`},
		{"null", `null`, "null"},
		{"two arrays", `[] []`, "more than 1"},
		{"trailing garbage", `[] x`, "not ip -j JSON"},
		{"truncated", `[{"ifindex":1,"ifname":"lo"`, "not ip -j JSON"},
		{"array of numbers", `[1,2]`, "not an ip -j object"},
		{"ifindex string", `[{"ifindex":"1","ifname":"lo"}]`, "not ip -j shape"},
		{"ifindex float", `[{"ifindex":1.5,"ifname":"lo"}]`, "not ip -j shape"},
		{"ifindex huge", `[{"ifindex":99999999999999999999999,"ifname":"lo"}]`, "not ip -j shape"},
		{"ifindex zero", `[{"ifindex":0,"ifname":"lo"}]`, "ifindex"},
		{"no ifindex", `[{"ifname":"lo"}]`, "ifindex"},
		{"no ifname", `[{"ifindex":1}]`, "ifname"},
		{"ifname slash", `[{"ifindex":1,"ifname":"../etc"}]`, "ifname"},
		{"ifname long", `[{"ifindex":1,"ifname":"abcdefghijklmnop"}]`, "ifname"},
		{"ifname space", `[{"ifindex":1,"ifname":"a b"}]`, "ifname"},
		{"duplicate", `[{"ifindex":1,"ifname":"lo"},{"ifindex":1,"ifname":"lo"}]`, "listed twice"},
		{"flags not list", `[{"ifindex":1,"ifname":"lo","flags":"UP"}]`, "not ip -j shape"},
		{"addr_info object", `[{"ifindex":1,"ifname":"lo","addr_info":{}}]`, "not ip -j shape"},
		{"addr not object", link(`"192.0.2.1"`), "not an ip -j object"},
		{"no local", link(`{"family":"inet","prefixlen":24}`), "missing"},
		{"no prefixlen", link(`{"family":"inet","local":"192.0.2.1"}`), "missing"},
		{"bad local", link(`{"family":"inet","local":"192.0.2.300","prefixlen":24}`), "bad local"},
		{"local number", link(`{"family":"inet","local":3221225985,"prefixlen":24}`), "not ip -j shape"},
		{"zone", link(`{"family":"inet6","local":"fe80::1%eth0","prefixlen":64}`), "zone"},
		{"family mismatch", link(`{"family":"inet","local":"2001:db8::1","prefixlen":64}`), "not of family"},
		{"family mismatch 6", link(`{"family":"inet6","local":"192.0.2.1","prefixlen":24}`), "not of family"},
		{"unknown family", link(`{"family":"ipx","local":"192.0.2.1","prefixlen":24}`), "family"},
		{"prefixlen 33", link(`{"family":"inet","local":"192.0.2.1","prefixlen":33}`), "out of range"},
		{"prefixlen negative", link(`{"family":"inet6","local":"2001:db8::1","prefixlen":-1}`), "out of range"},
		{"lifetime negative", link(`{"family":"inet","local":"192.0.2.1","prefixlen":24,"valid_life_time":-1}`), "not ip -j shape"},
		{"lifetime too big", link(`{"family":"inet","local":"192.0.2.1","prefixlen":24,"valid_life_time":4294967296}`), "not ip -j shape"},
		{"flag not bool", link(`{"family":"inet6","local":"2001:db8::1","prefixlen":64,"tentative":"yes"}`), "not ip -j shape"},
		{"huge", "[" + strings.Repeat(" ", MaxInput) + "]", "more than"},
		{"many objects", link(strings.Repeat("{},", MaxObjects) + "{}"), "JSON objects"},
		{"many values", `[{"ifindex":1,"ifname":"a","flags":[` + strings.Repeat(`"",`, MaxInput/8+1) + `""]}]`, "JSON values"},
		{"string", `"[]"`, "found a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			links, err := ParseAddrs([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseAddrs = %+v, %v; want error containing %q", links, err, tt.want)
			}
		})
	}
}

func TestParseRoutes(t *testing.T) {
	gw := netip.MustParseAddr
	tests := []struct {
		name, in string
		want     []Route
	}{
		{"fixture two-nics", "", []Route{{Dev: "eth1", Gateway: gw("198.51.100.1")}, {IPv6: true, Dev: "eth1", Gateway: gw("2001:db8:2::1"), Metric: 1024}}},
		{"fixture loopback-only", "", nil},
		{"v4 only", `[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]}]`, []Route{{Dev: "eth0", Gateway: gw("192.0.2.1")}}},
		{"v6 only, one array", `[{"dst":"default","gateway":"fe80::1","dev":"eth0","protocol":"ra","metric":1024,"flags":[],"pref":"medium"}]`,
			[]Route{{IPv6: true, Dev: "eth0", Gateway: gw("fe80::1"), Metric: 1024}}},
		{"dev only, pref says v6", `[{"dst":"default","dev":"ppp0","metric":1024,"pref":"medium"}]`, []Route{{IPv6: true, Dev: "ppp0", Metric: 1024}}},
		{"dev only, no hint: v4", `[{"dst":"default","dev":"ppp0","scope":"link"}]`, []Route{{Dev: "ppp0"}}},
		{"dev only, position", `[] [{"dst":"default","dev":"wg0","metric":5}]`, []Route{{IPv6: true, Dev: "wg0", Metric: 5}}},
		{"prefsrc hint", `[{"dst":"default","dev":"eth0","prefsrc":"2001:db8::5"}]`, []Route{{IPv6: true, Dev: "eth0"}}},
		{"multipath", `[{"dst":"default","metric":7,"nexthops":[{"gateway":"192.0.2.1","dev":"eth0","weight":1},{"gateway":"198.51.100.1","dev":"eth1","weight":1}]}]`,
			[]Route{{Dev: "eth0", Gateway: gw("192.0.2.1"), Metric: 7}, {Dev: "eth1", Gateway: gw("198.51.100.1"), Metric: 7}}},
		{"via", `[{"dst":"default","via":{"family":"inet6","host":"fe80::1"},"dev":"eth0"}]`, []Route{{Dev: "eth0", Gateway: gw("fe80::1")}}},
		{"not default, not unicast", `[{"dst":"192.0.2.0/24","dev":"eth0"},{"type":"unreachable","dst":"default","dev":"lo"}]`, nil},
		{"dst 0/0", `[{"dst":"0.0.0.0/0","gateway":"192.0.2.1","dev":"eth0"}]`, []Route{{Dev: "eth0", Gateway: gw("192.0.2.1")}}},
		{"empty arrays", "[]\n[]\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Route
			if f, ok := strings.CutPrefix(tt.name, "fixture "); ok {
				got = fixture(t, f).Routes
			} else {
				var err error
				if got, err = ParseRoutes([]byte(tt.in)); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseRoutesErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"three arrays", "[][][]", "more than 2"},
		{"swapped", `[{"dst":"default","gateway":"2001:db8::1","dev":"eth0"}] []`, "in the array of inet routes"},
		{"swapped 6", `[] [{"dst":"default","gateway":"192.0.2.1","dev":"eth0"}]`, "in the array of inet6 routes"},
		{"mixed fields", `[{"dst":"default","gateway":"192.0.2.1","prefsrc":"2001:db8::1","dev":"eth0"}]`, "prefsrc"},
		{"no dev", `[{"dst":"default","gateway":"192.0.2.1"}]`, "dev"},
		{"no dst", `[{"gateway":"192.0.2.1","dev":"eth0"}]`, "dst"},
		{"bad gateway", `[{"dst":"default","gateway":"192.0.2","dev":"eth0"}]`, "gateway"},
		{"gateway zone", `[{"dst":"default","gateway":"fe80::1%eth0","dev":"eth0"}]`, "zone"},
		{"metric string", `[{"dst":"default","dev":"eth0","metric":"1"}]`, "not ip -j shape"},
		{"metric huge", `[{"dst":"default","dev":"eth0","metric":4294967295}]`, "out of range"},
		{"not JSON", "default via 192.0.2.1 dev eth0", "not ip -j JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseRoutes([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseRoutes = %+v, %v; want error containing %q", rs, err, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := filepath.Join("testdata", "ipv4-only", "addrs.json")
	text := write("text", "1: lo: <LOOPBACK,UP> mtu 65536")
	shape := write("shape", `[{"ifindex":"one"}]`)
	tests := []struct{ name, addrs, routes, want string }{
		{"missing addrs", filepath.Join(dir, "nope.json"), "", "nope.json: no such file"},
		{"text addrs", text, "", text + ": not ip -j JSON"},
		{"shape addrs", shape, "", shape + ": link 1: not ip -j shape"},
		{"missing routes", good, filepath.Join(dir, "r.json"), "r.json: no such file"},
		{"text routes", good, text, text + ": not ip -j JSON"},
		{"addrs as routes", good, good, good + `: route 1: missing "dst"`},
		{"directory", dir, "", dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.addrs, tt.routes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v; want error containing %q", err, tt.want)
			}
		})
	}
	if s, err := Load(good, ""); err != nil || len(s.Links) != 2 || s.Routes != nil {
		t.Errorf("Load without routes = %+v, %v", s, err)
	}
}

func FuzzParseAddrs(f *testing.F) {
	fuzztest.LimitMinimizing(f)
	seeds, _ := filepath.Glob("testdata/*/addrs*.json")
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`[{"ifindex":2,"ifname":"eth0","addr_info":[{},{"family":"inet6","local":"::","prefixlen":0,"preferred_life_time":0}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		links, err := ParseAddrs(data)
		if err != nil {
			return
		}
		for _, l := range links {
			if l.Index <= 0 || !validName(l.Name) {
				t.Fatalf("accepted bad link %+v", l)
			}
			for _, a := range l.Addrs {
				if !a.Prefix.IsValid() || a.Prefix.Addr().Zone() != "" {
					t.Fatalf("accepted bad address %+v on %s", a, l.Name)
				}
			}
		}
	})
}

func FuzzParseRoutes(f *testing.F) {
	fuzztest.LimitMinimizing(f)
	seeds, _ := filepath.Glob("testdata/*/routes.json")
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		routes, err := ParseRoutes(data)
		if err != nil {
			return
		}
		for _, r := range routes {
			if !validName(r.Dev) || r.Metric < 0 || r.Gateway.Zone() != "" {
				t.Fatalf("accepted bad route %+v", r)
			}
		}
	})
}
