package status

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// VerdictPrefix starts the one line that a run writes to the console at every boot: what it
// decided, from which toggle, and what the image was baked with. Operators see it in the serial
// console (`openstack console log show`), and the clearwater-verify post-processor reads it there.
const VerdictPrefix = "clearwater-firstboot verdict:"

// Baked is what the image was built with, as its provisioner's file (the helper's config file,
// without drop-ins, the marker or user-data) says: what a boot on a dual-stack network without
// user-data follows.
type Baked struct {
	ForceIPv6     bool
	OnMissingIPv6 string
}

// Verdict is what the console line says.
type Verdict struct {
	Family      string // "ipv4", "ipv6", or "none" when nothing was decided
	Address     string
	Interface   string
	ForceIPv6   bool
	ForceSource string
	Degraded    bool
	// Baked is nil when the line does not say (the config file was unreadable).
	Baked *Baked
	// Reason is why: the decision's own reason, or the error when nothing was decided.
	Reason string
}

// Verdict is the report's console line (without a line end). baked may be nil.
func (r Report) Verdict(baked *Baked) string {
	v := Verdict{Family: r.Family, Address: r.Address, Interface: r.Interface, ForceIPv6: r.ForceIPv6,
		ForceSource: r.ForceSource, Degraded: r.Degraded, Baked: baked, Reason: r.Error}
	if v.Family == "" {
		v.Family = "none"
	}
	if d := r.Reason("chose "); d != "" && r.Family != "" {
		v.Reason = d
	}
	return v.String()
}

// String is the console line: key=value pairs, the values that may hold spaces quoted (Go syntax,
// so the line stays one line of ASCII whatever the reason holds).
func (v Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s family=%s address=%s interface=%s force_ipv6=%t force_source=%s degraded=%t",
		VerdictPrefix, word(v.Family), word(v.Address), word(v.Interface), v.ForceIPv6, word(v.ForceSource), v.Degraded)
	if v.Baked != nil {
		fmt.Fprintf(&b, " baked_force_ipv6=%t baked_on_missing_ipv6=%s", v.Baked.ForceIPv6, word(v.Baked.OnMissingIPv6))
	}
	fmt.Fprintf(&b, " reason=%s", strconv.QuoteToASCII(v.Reason))
	return b.String()
}

// word is a value without spaces, or "-" for an empty one.
func word(s string) string {
	if s = strings.Join(strings.Fields(s), "_"); s == "" {
		return "-"
	}
	return s
}

// verdictRE finds a verdict line in a console log; the serial line's CR and whatever the console
// printed before it on the same line are not part of it.
var verdictRE = regexp.MustCompile(regexp.QuoteMeta(VerdictPrefix) + `((?: [a-z_0-9]+=(?:"(?:[^"\\\n]|\\.)*"|[^ "\r\n]*))+)`)

// pairRE is one key=value of a verdict line.
var pairRE = regexp.MustCompile(`([a-z_0-9]+)=("(?:[^"\\]|\\.)*"|[^ ]*)`)

// LastVerdict returns the last verdict line in a console log; ok is false when there is none.
func LastVerdict(log string) (v Verdict, ok bool, err error) {
	all := verdictRE.FindAllStringSubmatch(log, -1)
	if len(all) == 0 {
		return v, false, nil
	}
	v, err = ParseVerdict(all[len(all)-1][1])
	return v, true, err
}

// ParseVerdict reads the key=value pairs of a verdict line (after VerdictPrefix).
func ParseVerdict(s string) (Verdict, error) {
	kv := map[string]string{}
	for _, m := range pairRE.FindAllStringSubmatch(s, -1) {
		val := m[2]
		if strings.HasPrefix(val, `"`) {
			u, err := strconv.Unquote(val)
			if err != nil {
				return Verdict{}, fmt.Errorf("verdict line: %s: %v", m[1], err)
			}
			val = u
		} else if val == "-" {
			val = ""
		}
		kv[m[1]] = val
	}
	v := Verdict{Family: kv["family"], Address: kv["address"], Interface: kv["interface"],
		ForceSource: kv["force_source"], Reason: kv["reason"]}
	if v.Family == "" {
		return v, fmt.Errorf("verdict line without a family: %q", s)
	}
	v.ForceIPv6 = kv["force_ipv6"] == "true"
	v.Degraded = kv["degraded"] == "true"
	if b, ok := kv["baked_force_ipv6"]; ok {
		v.Baked = &Baked{ForceIPv6: b == "true", OnMissingIPv6: kv["baked_on_missing_ipv6"]}
	}
	return v, nil
}
