package status

import (
	"strings"
	"testing"
)

// The console line reads back as written, from a console where the kernel and systemd write too.
func TestVerdictRoundTrip(t *testing.T) {
	rep := Report{Family: "ipv6", Address: "2001:db8:cafe::5054:ff:fe12:3456", Interface: "ens2", ForceIPv6: true,
		ForceSource: "user-data:clearwater", Reasons: []string{"IPv6 forced by user-data",
			`chose 2001:db8:cafe::5054:ff:fe12:3456 on ens2: IPv6 forced (force_ipv6), the "only" one`}}
	line := rep.Verdict(&Baked{ForceIPv6: false, OnMissingIPv6: "fail"})
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, VerdictPrefix+" family=ipv6 ") {
		t.Fatalf("line = %q", line)
	}
	old := Report{Family: "ipv4", Address: "10.0.2.15", Interface: "ens2", ForceSource: "none",
		Reasons: []string{"chose 10.0.2.15 on ens2: IPv4 preferred"}}.Verdict(nil)
	log := "[    3.1] cloud-init[200]: ok\r\n" + old + "\r\n[  OK  ] Started x.\r\n[   9.9] random: " + line + "\r\n[  OK  ] Reached target\r\n"
	v, ok, err := LastVerdict(log)
	if !ok || err != nil {
		t.Fatalf("LastVerdict = %v, %v", ok, err)
	}
	want := Verdict{Family: "ipv6", Address: rep.Address, Interface: "ens2", ForceIPv6: true,
		ForceSource: "user-data:clearwater", Baked: &Baked{OnMissingIPv6: "fail"}, Reason: rep.Reasons[1]}
	if v.Baked == nil || *v.Baked != *want.Baked {
		t.Fatalf("baked = %+v", v.Baked)
	}
	v.Baked, want.Baked = nil, nil
	if v != want {
		t.Errorf("parsed\n%+v\nwant\n%+v", v, want)
	}
	if v, ok, _ := LastVerdict(log[:strings.Index(log, "[   9.9]")]); !ok || v.Family != "ipv4" || v.Baked != nil {
		t.Errorf("the first line alone: %+v %v", v, ok)
	}
}

// Nothing decided is family "none" with the error as the reason; no line is no verdict.
func TestVerdictNothingDecided(t *testing.T) {
	line := Report{Error: "no usable IPv4 or IPv6 address on any interface", ForceSource: "config"}.Verdict(&Baked{ForceIPv6: true})
	v, ok, err := LastVerdict("x\n" + line + "\n")
	if !ok || err != nil || v.Family != "none" || v.Address != "" || v.Reason != "no usable IPv4 or IPv6 address on any interface" {
		t.Errorf("%q -> %+v %v %v", line, v, ok, err)
	}
	if _, ok, _ := LastVerdict("login: \n"); ok {
		t.Error("a verdict in a log without one")
	}
}
