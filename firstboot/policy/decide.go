package policy

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netstate"
)

// WebSocketWarning is the warning of every IPv6 decision.
const WebSocketWarning = "SIP over WebSockets (WebRTC, bono TCP 5062) is IPv4-only in Clearwater; it will not work"

// ula is fc00::/7, unique local IPv6 addresses (RFC 4193).
var ula = netip.MustParsePrefix("fc00::/7")

// Decide chooses the family and address Clearwater uses: the best IPv4 unless IPv6 is forced or
// there is no IPv4, the best IPv6 when forced (or IPv4, degraded, when there is none and
// in.OnMissingIPv6 allows it). When nothing fits, Family is "" and Error says why. An interface
// pinned by in.Interface counts even when it matches in.IgnoreInterfaces.
func Decide(s netstate.Snapshot, in Input) Decision {
	if in.OnMissingIPv6 != "" && in.OnMissingIPv6 != config.Fallback && in.OnMissingIPv6 != config.Fail {
		return Decision{Error: fmt.Sprintf("on_missing_ipv6 %q is neither %s nor %s", in.OnMissingIPv6, config.Fallback, config.Fail)}
	}
	sv := survey(s, in, true)
	d := Decision{Reasons: sv.reasons, Warnings: sv.warnings}
	v4, v6 := sv.cands[0], sv.cands[1]
	switch {
	case in.ForceIPv6 && len(v6) > 0:
		d.choose(v6, sv.defDev[1], IPv6, "IPv6 forced (force_ipv6)")
	case in.ForceIPv6 && in.OnMissingIPv6 == config.Fail:
		d.Error = "IPv6 forced (force_ipv6) but no usable IPv6 address, and on_missing_ipv6 is fail"
	case in.ForceIPv6 && len(v4) > 0:
		d.choose(v4, sv.defDev[0], IPv4, "IPv6 forced but no usable IPv6 address; on_missing_ipv6 is fallback, so IPv4 (degraded)")
		d.Degraded = true
		d.Warnings = append(d.Warnings, "IPv6 was forced but no IPv6 address is usable: running on IPv4 (degraded)")
	case !in.ForceIPv6 && len(v4) > 0:
		d.choose(v4, sv.defDev[0], IPv4, "IPv4 preferred when not forced")
	case !in.ForceIPv6 && len(v6) > 0:
		d.choose(v6, sv.defDev[1], IPv6, "no usable IPv4 address (an IPv6-only network)")
	default:
		d.Error = "no usable IPv4 or IPv6 address on any interface"
	}
	if d.Family == IPv6 {
		d.Warnings = append(d.Warnings, WebSocketWarning)
	}
	return d
}

// Candidates returns the usable addresses of one family, best first.
func Candidates(s netstate.Snapshot, in Input, ipv6 bool) []Candidate {
	sv := survey(s, in, false)
	if ipv6 {
		return sv.cands[1]
	}
	return sv.cands[0]
}

// Held returns the addresses of one family that duplicate address detection keeps from being
// usable, in the order listed: those still tentative (a node configuring them) and those whose
// DAD failed.
func Held(s netstate.Snapshot, in Input, ipv6 bool) []HeldAddr {
	sv := survey(s, in, false)
	if ipv6 {
		return sv.held[1]
	}
	return sv.held[0]
}

// familyNames are the families as a person writes them.
var familyNames = map[string]string{IPv4: "IPv4", IPv6: "IPv6"}

// choose records the best of ranked candidates c (non-empty) of family and why it won.
func (d *Decision) choose(c []Candidate, defDev, family, because string) {
	d.Family, d.Address, d.Interface = family, c[0].Addr, c[0].Interface
	d.Reasons = append(d.Reasons, fmt.Sprintf("chose %s on %s: %s, %s", c[0].Addr, c[0].Interface, because, rankReason(c, defDev, familyNames[family])))
}

// rankReason says why c[0] ranks first among c: the first rule of the order that tells it from c[1].
func rankReason(c []Candidate, defDev, fam string) string {
	var parts []string
	onDefault := defDev != "" && c[0].Interface == defDev
	if onDefault {
		parts = append(parts, fmt.Sprintf("%s has the %s default route", defDev, fam))
	} else if defDev == "" {
		parts = append(parts, fmt.Sprintf("there is no usable %s default route", fam))
	}
	if len(c) == 1 {
		return strings.Join(append(parts, fmt.Sprintf("the only usable %s address", fam)), ", ")
	}
	c0, c1 := c[0], c[1]
	switch {
	case onDefault && c1.Interface != defDev:
		parts = append(parts, fmt.Sprintf("%s on %s is not on it", c1.Addr, c1.Interface))
	case ula.Contains(c0.Addr) != ula.Contains(c1.Addr):
		parts = append(parts, fmt.Sprintf("global unicast before ULA %s", c1.Addr))
	case c0.Index != c1.Index:
		parts = append(parts, fmt.Sprintf("%s (ifindex %d) before %s (ifindex %d)", c0.Interface, c0.Index, c1.Interface, c1.Index))
	default:
		parts = append(parts, fmt.Sprintf("listed before %s on %s", c1.Addr, c1.Interface))
	}
	return strings.Join(parts, ", ")
}
