package netstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// Bounds on the JSON that ParseAddrs, ParseRoutes and Load accept: far more than `ip -j -d addr show`
// prints for a host with thousands of links, small enough that hostile input costs little time
// and memory.
const (
	MaxInput   = 4 << 20 // bytes
	MaxObjects = 1 << 16 // JSON objects: links, addresses, routes and what ip nests in them
)

// ipLink is one element of `ip -j addr show`; unknown keys (ip -d adds many) are ignored.
type ipLink struct {
	Ifindex   *int              `json:"ifindex"`
	Ifname    *string           `json:"ifname"`
	Flags     []string          `json:"flags"`
	Operstate string            `json:"operstate"`
	AddrInfo  []json.RawMessage `json:"addr_info"`
}

// ipAddr is one element of a link's addr_info.
type ipAddr struct {
	Family     string  `json:"family"`
	Local      *string `json:"local"`
	Prefixlen  *int    `json:"prefixlen"`
	Scope      string  `json:"scope"`
	Dynamic    bool    `json:"dynamic"`
	Tentative  bool    `json:"tentative"`
	DADFailed  bool    `json:"dadfailed"`
	Deprecated bool    `json:"deprecated"`
	Temporary  bool    `json:"temporary"`
	Optimistic bool    `json:"optimistic"`
	Valid      *uint32 `json:"valid_life_time"`
	Preferred  *uint32 `json:"preferred_life_time"`
}

// ParseAddrs parses the output of `ip -j addr show` (also with -d, or for one dev).
func ParseAddrs(data []byte) ([]Link, error) {
	arrays, err := jsonArrays(data, 1)
	if err != nil {
		return nil, err
	}
	links := make([]Link, 0, len(arrays[0]))
	seenIndex := map[int]bool{}
	seenName := map[string]bool{}
	for i, raw := range arrays[0] {
		l, err := parseLink(raw)
		if err != nil {
			return nil, fmt.Errorf("link %d: %w", i+1, err)
		}
		if seenIndex[l.Index] || seenName[l.Name] {
			return nil, fmt.Errorf("link %d: %s (ifindex %d) is listed twice", i+1, l.Name, l.Index)
		}
		seenIndex[l.Index], seenName[l.Name] = true, true
		links = append(links, l)
	}
	return links, nil
}

func parseLink(raw json.RawMessage) (Link, error) {
	var j ipLink
	if err := unmarshalObject(raw, &j); err != nil {
		return Link{}, err
	}
	if j.Ifindex == nil || *j.Ifindex <= 0 {
		return Link{}, errors.New(`missing or non-positive "ifindex"`)
	}
	if j.Ifname == nil || !validName(*j.Ifname) {
		return Link{}, errors.New(`missing or invalid "ifname"`)
	}
	l := Link{Index: *j.Ifindex, Name: *j.Ifname, OperState: j.Operstate}
	for _, f := range j.Flags {
		switch f {
		case "UP":
			l.AdminUp = true
		case "LOWER_UP":
			l.LowerUp = true
		case "NO-CARRIER":
			l.NoCarrier = true
		case "LOOPBACK":
			l.Loopback = true
		}
	}
	l.Up = linkUp(l.AdminUp, l.NoCarrier, l.OperState)
	for i, raw := range j.AddrInfo {
		a, ok, err := parseAddr(raw)
		if err != nil {
			return Link{}, fmt.Errorf("%s: address %d: %w", l.Name, i+1, err)
		}
		if ok {
			l.Addrs = append(l.Addrs, a)
		}
	}
	return l, nil
}

// parseAddr parses one addr_info element. An empty object, which ip prints for an address that
// its family filter hides (ip -j -4 addr show), is skipped: ok is false.
func parseAddr(raw json.RawMessage) (a Addr, ok bool, err error) {
	var j ipAddr
	if err := unmarshalObject(raw, &j); err != nil {
		return Addr{}, false, err
	}
	if j == (ipAddr{}) {
		return Addr{}, false, nil
	}
	if j.Local == nil || j.Prefixlen == nil {
		return Addr{}, false, errors.New(`missing "local" or "prefixlen"`)
	}
	ip, err := netip.ParseAddr(*j.Local)
	if err != nil {
		return Addr{}, false, fmt.Errorf("bad local address: %w", err)
	}
	switch {
	case ip.Zone() != "":
		return Addr{}, false, fmt.Errorf("local address %s has a zone", ip)
	case j.Family == "inet" && !ip.Is4(), j.Family == "inet6" && !ip.Is6():
		return Addr{}, false, fmt.Errorf("local address %s is not of family %s", ip, j.Family)
	case j.Family != "inet" && j.Family != "inet6":
		return Addr{}, false, fmt.Errorf("family %q is not inet or inet6", j.Family)
	}
	if *j.Prefixlen < 0 || *j.Prefixlen > ip.BitLen() {
		return Addr{}, false, fmt.Errorf("prefixlen %d out of range for %s", *j.Prefixlen, ip)
	}
	a = Addr{
		Prefix: netip.PrefixFrom(ip, *j.Prefixlen), Scope: j.Scope,
		Dynamic: j.Dynamic, Tentative: j.Tentative, DADFailed: j.DADFailed,
		Deprecated: j.Deprecated, Temporary: j.Temporary, Optimistic: j.Optimistic,
		ValidLifetime: Forever, PreferredLifetime: Forever,
	}
	if j.Valid != nil {
		a.ValidLifetime = *j.Valid
	}
	if j.Preferred != nil {
		a.PreferredLifetime = *j.Preferred
	}
	a.Deprecated = a.Deprecated || a.PreferredLifetime == 0
	return a, true, nil
}

// ipRoute is one element of `ip -j route show`.
type ipRoute struct {
	Type     string      `json:"type"`
	Dst      string      `json:"dst"`
	Gateway  string      `json:"gateway"`
	Via      *ipVia      `json:"via"`
	Dev      string      `json:"dev"`
	Metric   *uint32     `json:"metric"`
	Prefsrc  string      `json:"prefsrc"`
	Pref     string      `json:"pref"`
	Nexthops []ipNexthop `json:"nexthops"`
}

type ipVia struct {
	Host string `json:"host"`
}

type ipNexthop struct {
	Gateway string `json:"gateway"`
	Via     *ipVia `json:"via"`
	Dev     string `json:"dev"`
}

// ParseRoutes parses `ip -j route show default` and/or `ip -6 -j route show default`: one array, or
// two arrays concatenated, the first IPv4 and the second IPv6. Otherwise a route's family comes
// from its gateway, dst, prefsrc or pref (IPv6 only), and is IPv4 (ip's default) when none says.
// Routes that are not default unicast routes of the main table (as ip prints them) are left out.
func ParseRoutes(data []byte) ([]Route, error) {
	arrays, err := jsonArrays(data, 2)
	if err != nil {
		return nil, err
	}
	var routes []Route
	for ai, arr := range arrays {
		for i, raw := range arr {
			var j ipRoute
			if err := unmarshalObject(raw, &j); err != nil {
				return nil, fmt.Errorf("route %d: %w", i+1, err)
			}
			rs, err := parseRoute(j, ai, len(arrays))
			if err != nil {
				return nil, fmt.Errorf("route %d: %w", i+1, err)
			}
			routes = append(routes, rs...)
		}
	}
	return routes, nil
}

// parseRoute turns one ip route into one Route per next hop; ai is its array's position of n.
func parseRoute(j ipRoute, ai, n int) ([]Route, error) {
	if j.Dst == "" {
		return nil, errors.New(`missing "dst": not an ip route`)
	}
	hint, err := routeFamily(j)
	if err != nil {
		return nil, err
	}
	ipv6 := hint == "inet6"
	if n == 2 {
		want := []string{"inet", "inet6"}[ai]
		if hint != "" && hint != want {
			return nil, fmt.Errorf("an %s route in the array of %s routes (want `ip -j route show default` first, then `ip -6 -j route show default`)", hint, want)
		}
		ipv6 = ai == 1
	}
	if (j.Type != "" && j.Type != "unicast") || (j.Dst != "default" && j.Dst != "0.0.0.0/0" && j.Dst != "::/0") {
		return nil, nil
	}
	metric := 0
	if j.Metric != nil {
		if *j.Metric > 1<<31-1 {
			return nil, fmt.Errorf("metric %d out of range", *j.Metric)
		}
		metric = int(*j.Metric)
	}
	hops := j.Nexthops
	if len(hops) == 0 {
		hops = []ipNexthop{{Gateway: j.Gateway, Via: j.Via, Dev: j.Dev}}
	}
	var routes []Route
	for _, h := range hops {
		if !validName(h.Dev) {
			return nil, fmt.Errorf("missing or invalid dev %q", h.Dev)
		}
		r := Route{IPv6: ipv6, Dev: h.Dev, Metric: metric}
		gw := h.Gateway
		if gw == "" && h.Via != nil {
			gw = h.Via.Host
		}
		if gw != "" {
			if r.Gateway, err = parseIP(gw); err != nil {
				return nil, fmt.Errorf("gateway: %w", err)
			}
		}
		routes = append(routes, r)
	}
	return routes, nil
}

// routeFamily says which family a route's own fields show: "inet", "inet6", or "" when none does.
// Fields that disagree are an error.
func routeFamily(j ipRoute) (string, error) {
	family := ""
	note := func(field, s string) error {
		if s == "" || s == "default" {
			return nil
		}
		f := "inet"
		if strings.Contains(s, ":") {
			f = "inet6"
		}
		if family != "" && f != family {
			return fmt.Errorf("%s %q is not %s like the rest of the route", field, s, family)
		}
		family = f
		return nil
	}
	for _, kv := range [][2]string{{"gateway", j.Gateway}, {"dst", j.Dst}, {"prefsrc", j.Prefsrc}} {
		if err := note(kv[0], kv[1]); err != nil {
			return "", err
		}
	}
	if family == "" && j.Pref != "" {
		family = "inet6" // RTA_PREF exists for IPv6 routes only
	}
	return family, nil
}

// parseIP parses an address as ip prints it, without a zone.
func parseIP(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("address %s has a zone", ip)
	}
	return ip, nil
}

// jsonArrays splits data into 1 to max JSON arrays of JSON objects, with nothing else around. It
// streams, so that a hostile input fails at its first wrong element, not after all of them.
func jsonArrays(data []byte, max int) ([][]json.RawMessage, error) {
	if len(data) > MaxInput {
		return nil, fmt.Errorf("input is %d bytes, more than the %d allowed", len(data), MaxInput)
	}
	if n := bytes.Count(data, []byte("{")); n > MaxObjects {
		return nil, fmt.Errorf("input has %d JSON objects, more than the %d allowed", n, MaxObjects)
	}
	if n := bytes.Count(data, []byte(",")); n > MaxInput/8 {
		return nil, fmt.Errorf("input has %d JSON values, more than ip prints in %d bytes", n, MaxInput)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var arrays [][]json.RawMessage
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not ip -j JSON (want a JSON array of objects): %w", err)
		}
		if tok != json.Delim('[') {
			return nil, fmt.Errorf("not ip -j JSON: want a JSON array, found %s", describe(tok))
		}
		if len(arrays) == max {
			return nil, fmt.Errorf("more than %d JSON arrays", max)
		}
		arr := []json.RawMessage{}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("not ip -j JSON (want a JSON array of objects): %w", err)
			}
			if raw[0] != '{' {
				return nil, fmt.Errorf("element %d of array %d is not an ip -j object: %.40s", len(arr)+1, len(arrays)+1, raw)
			}
			arr = append(arr, raw)
		}
		if _, err := dec.Token(); err != nil { // the closing ]
			return nil, fmt.Errorf("not ip -j JSON (want a JSON array of objects): %w", err)
		}
		arrays = append(arrays, arr)
	}
	if len(arrays) == 0 {
		return nil, errors.New("empty: no JSON array")
	}
	return arrays, nil
}

// describe names a JSON token for an error message.
func describe(tok json.Token) string {
	switch tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		return fmt.Sprintf("%q", tok)
	case string:
		return "a string"
	}
	return fmt.Sprintf("%v", tok)
}

// unmarshalObject decodes one JSON object into v, naming the shape it wanted on failure.
func unmarshalObject(raw json.RawMessage, v any) error {
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("not an ip -j object: %.40s", raw)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("not ip -j shape: %w", err)
	}
	return nil
}

// Load reads a snapshot from the files of `ip -j addr show` and of `ip -j route show default`
// (routesPath may be empty: no default routes).
func Load(addrsPath, routesPath string) (Snapshot, error) {
	data, err := rootfs.ReadPath(addrsPath)
	if err != nil {
		return Snapshot{}, err
	}
	var s Snapshot
	if s.Links, err = ParseAddrs(data); err != nil {
		return Snapshot{}, fmt.Errorf("%s: %w", addrsPath, err)
	}
	if routesPath == "" {
		return s, nil
	}
	if data, err = rootfs.ReadPath(routesPath); err != nil {
		return Snapshot{}, err
	}
	if s.Routes, err = ParseRoutes(data); err != nil {
		return Snapshot{}, fmt.Errorf("%s: %w", routesPath, err)
	}
	return s, nil
}
