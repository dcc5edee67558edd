package netconf

import (
	"fmt"
	"path"
	"strings"
)

// Where ifupdown's config lives, and netconf's drop-in for it.
const (
	IfupdownInterfaces = "/etc/network/interfaces"
	IfupdownDir        = "/etc/network/interfaces.d"
	IfupdownFile       = IfupdownDir + "/" + Name
)

// stanzas is what netconf reads of ifupdown's config.
type stanzas struct {
	methods map[string]string // "inet"/"inet6" -> method, for one interface
	auto    bool              // an auto or allow-* line names the interface
}

// readStanzas collects the lines about iface (joining continued lines).
func readStanzas(data []byte, iface string, into *stanzas) {
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#"):
		case f[0] == "iface" && len(f) >= 4 && f[1] == iface:
			into.methods[f[2]] = f[3]
		case f[0] == "auto" || strings.HasPrefix(f[0], "allow-"):
			for _, n := range f[1:] {
				into.auto = into.auto || n == iface
			}
		}
	}
}

// sourcesDropIns reports whether the interfaces file reads netconf's drop-in (a source line whose
// glob matches it, or a source-directory of its folder). Relative paths are from /etc/network.
func sourcesDropIns(data []byte) bool {
	abs := func(p string) string {
		if !path.IsAbs(p) {
			p = path.Join(path.Dir(IfupdownInterfaces), p)
		}
		return path.Clean(p)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		switch f[0] {
		case "source":
			if globMatch(abs(f[1]), IfupdownFile) {
				return true
			}
		case "source-directory":
			if abs(f[1]) == IfupdownDir {
				return true
			}
		}
	}
	return false
}

func writeIfupdown(root string, req Request) (Result, bool, error) {
	main, err := readFile(root, IfupdownInterfaces)
	if main == nil || err != nil {
		return Result{}, err != nil, err
	}
	res := Result{Stack: Ifupdown, Path: IfupdownFile}
	if !sourcesDropIns(main) {
		return res, true, fmt.Errorf("netconf: %w: %s does not source %s", ErrUnsupported, IfupdownInterfaces, IfupdownDir)
	}
	theirs := stanzas{methods: map[string]string{}}
	readStanzas(main, req.Interface, &theirs)
	var own []byte
	for _, f := range glob(root, IfupdownDir, "") {
		data, err := readFile(root, f)
		if err != nil {
			return res, true, err
		}
		if f == IfupdownFile {
			own = data
		} else {
			readStanzas(data, req.Interface, &theirs)
		}
	}
	ours := ownStanzas(own)
	want := ours[req.Interface].union(req)
	for fam, on := range map[string]bool{"inet": want.DHCPv4, "inet6": want.DHCPv6 || want.AcceptRA} {
		if m, ok := theirs.methods[fam]; ok && on {
			return res, true, fmt.Errorf("netconf: %w: ifupdown already has \"iface %s %s %s\"; a second stanza would conflict",
				ErrUnsupported, req.Interface, fam, m)
		}
	}
	want.auto = !theirs.auto
	ours[req.Interface] = want
	res.Written, err = writeFile(root, IfupdownFile, renderIfupdown(ours), 0o644)
	return res, true, err
}

// ifupdownOwn is what netconf's own file asks for on one interface.
type ifupdownOwn struct {
	Request
	auto bool // the file brings it up (no auto or allow-* line of the operator's does)
}

func (o ifupdownOwn) union(r Request) ifupdownOwn {
	o.Request = o.Request.union(r)
	o.Interface = r.Interface
	return o
}

// ownStanzas reads netconf's own file back, per interface.
func ownStanzas(data []byte) map[string]ifupdownOwn {
	out := map[string]ifupdownOwn{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "allow-hotplug":
			o := out[f[1]]
			o.auto = true
			out[f[1]] = o
		case len(f) == 4 && f[0] == "iface":
			o := out[f[1]]
			o.Interface = f[1]
			switch {
			case f[2] == "inet" && f[3] == "dhcp":
				o.DHCPv4 = true
			case f[2] == "inet6" && f[3] == "dhcp":
				o.DHCPv6, o.AcceptRA = true, true
			case f[2] == "inet6":
				o.AcceptRA = true
			}
			out[f[1]] = o
		}
	}
	return out
}

func renderIfupdown(own map[string]ifupdownOwn) []byte {
	var b strings.Builder
	b.WriteString(Header)
	for _, name := range sortedKeys(own) {
		o := own[name]
		b.WriteString("\n")
		if o.auto {
			fmt.Fprintf(&b, "allow-hotplug %s\n", name)
		}
		if o.DHCPv4 {
			fmt.Fprintf(&b, "iface %s inet dhcp\n", name)
		}
		switch {
		case o.DHCPv6:
			fmt.Fprintf(&b, "iface %s inet6 dhcp\n", name)
		case o.AcceptRA:
			fmt.Fprintf(&b, "iface %s inet6 auto\n", name)
		}
	}
	return []byte(b.String())
}
