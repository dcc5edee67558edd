package netconf

import (
	"path"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
)

// networkdDir is where an administrator's .network files and their drop-ins live.
const networkdDir = "/etc/systemd/network"

// NetworkdDirs are where systemd-networkd reads .network files, highest priority first: a file
// shadows those of the same name in later folders.
var NetworkdDirs = []string{networkdDir, "/run/systemd/network", "/usr/local/lib/systemd/network",
	"/usr/lib/systemd/network", "/lib/systemd/network"}

// dhcpSet is the value of networkd's DHCP= setting as the two families it enables.
type dhcpSet struct{ v4, v6 bool }

func parseDHCP(s string) dhcpSet {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true", "on", "1", "both":
		return dhcpSet{true, true}
	case "ipv4", "v4":
		return dhcpSet{v4: true}
	case "ipv6", "v6":
		return dhcpSet{v6: true}
	}
	return dhcpSet{}
}

func (d dhcpSet) String() string {
	switch {
	case d.v4 && d.v6:
		return "yes"
	case d.v4:
		return "ipv4"
	case d.v6:
		return "ipv6"
	}
	return "no"
}

func writeNetworkd(root string, req Request) (Result, bool, error) {
	file, err := networkdMatch(root, req.Interface)
	if file == "" || err != nil {
		return Result{}, err != nil, err
	}
	dropin := path.Join(networkdDir, path.Base(file)+".d", Name+".conf")
	res := Result{Stack: Networkd, Path: dropin}
	// A drop-in's DHCP= replaces the file's: start from what the file and its drop-ins say,
	// ours included, so that nothing the operator enabled is turned off.
	dhcp, acceptRA := dhcpSet{}, false
	for _, f := range append([]string{file}, networkdDropIns(root, path.Base(file))...) {
		data, err := readFile(root, f)
		if err != nil {
			return res, true, err
		}
		ini, err := parseINI(f, data)
		if err != nil {
			return res, true, err
		}
		if v, ok := ini.last("Network", "DHCP"); ok {
			dhcp = parseDHCP(v)
		}
		if f == dropin {
			_, acceptRA = ini.last("Network", "IPv6AcceptRA")
		}
	}
	dhcp.v4, dhcp.v6 = dhcp.v4 || req.DHCPv4, dhcp.v6 || req.DHCPv6
	var opts []*unit.UnitOption
	if dhcp.v4 || dhcp.v6 {
		opts = append(opts, unit.NewUnitOption("Network", "DHCP", dhcp.String()))
	}
	if acceptRA || req.AcceptRA {
		opts = append(opts, unit.NewUnitOption("Network", "IPv6AcceptRA", "yes"))
	}
	res.Written, err = writeFile(root, dropin, serializeINI(opts...), 0o644)
	return res, true, err
}

// networkdMatch returns the .network file networkd applies to iface: the first, by file name,
// whose [Match] Name= matches it. Other [Match] keys are not evaluated: a drop-in only ever
// affects the interfaces its file matches.
func networkdMatch(root, iface string) (string, error) {
	for _, f := range networkdFiles(root, "", ".network") {
		data, err := readFile(root, f)
		if err != nil {
			return "", err
		}
		ini, err := parseINI(f, data)
		if err != nil {
			return "", err
		}
		if matchNames(ini.all("Match", "Name"), iface) {
			return f, nil
		}
	}
	return "", nil
}

// networkdDropIns lists the drop-ins of the .network file called name, in the order networkd
// applies them.
func networkdDropIns(root, name string) []string {
	return networkdFiles(root, name+".d", ".conf")
}

// networkdFiles lists the files ending in ext in sub of each of NetworkdDirs, sorted by name,
// a file in a higher-priority folder shadowing the others of its name.
func networkdFiles(root, sub, ext string) []string {
	byName := map[string]string{}
	var names []string
	for _, dir := range NetworkdDirs {
		for _, f := range glob(root, path.Join(dir, sub), ext) {
			if _, ok := byName[path.Base(f)]; !ok {
				byName[path.Base(f)] = f
				names = append(names, path.Base(f))
			}
		}
	}
	var out []string
	for _, n := range sortedStrings(names) {
		out = append(out, byName[n])
	}
	return out
}

// matchNames applies networkd's Name= rule: space-separated globs, any of which matches; a
// leading "!" inverts the list; an empty assignment resets it; no Name= at all matches every
// interface.
func matchNames(values []string, iface string) bool {
	var globs []string
	invert := false
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			globs, invert = nil, false
			continue
		}
		if strings.HasPrefix(v, "!") {
			invert, v = true, v[1:]
		}
		globs = append(globs, strings.Fields(v)...)
	}
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if globMatch(g, iface) {
			return !invert
		}
	}
	return invert
}
