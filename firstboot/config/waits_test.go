package config

import (
	"testing"
	"time"
)

// The cap falls on the longest waits, to one level, and only when the waits exceed the limit.
func TestCapWaits(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name      string
		v4, v6, p time.Duration
		md, limit time.Duration
		want      [4]time.Duration // ipv4_wait, ipv6_timeout, probe_after, metadata_timeout
		capped    []string
	}{
		{"fits", 10 * s, 30 * s, 3 * s, 5 * s, 48 * s, [4]time.Duration{10 * s, 30 * s, 3 * s, 5 * s}, nil},
		{"one raised", 10 * s, 10 * time.Minute, 3 * s, 5 * s, 138 * s, [4]time.Duration{10 * s, 120 * s, 3 * s, 5 * s}, []string{"ipv6_timeout"}},
		{"two raised", 5 * time.Minute, 10 * time.Minute, 3 * s, 5 * s, 138 * s, [4]time.Duration{65 * s, 65 * s, 3 * s, 5 * s}, []string{"ipv4_wait", "ipv6_timeout"}},
		{"whole seconds", 10 * s, 100 * s, 0, 100 * s, 101 * s, [4]time.Duration{10 * s, 45 * s, 0, 45 * s}, []string{"ipv6_timeout", "metadata_timeout"}},
		{"no time at all", 10 * s, 30 * s, 3 * s, 5 * s, -s, [4]time.Duration{}, []string{"ipv4_wait", "ipv6_timeout", "probe_after", "metadata_timeout"}},
	} {
		c := Config{IPv4Wait: tc.v4, IPv6Timeout: tc.v6, ProbeAfter: tc.p, MetadataTimeout: tc.md}
		capped := c.CapWaits(tc.limit)
		if got := [4]time.Duration{c.IPv4Wait, c.IPv6Timeout, c.ProbeAfter, c.MetadataTimeout}; got != tc.want {
			t.Errorf("%s: waits %v, want %v", tc.name, got, tc.want)
		}
		if max(tc.limit, 0) < c.Waits() {
			t.Errorf("%s: waits %s exceed the limit %s", tc.name, c.Waits(), tc.limit)
		}
		if len(capped) != len(tc.capped) {
			t.Fatalf("%s: capped %v, want %v", tc.name, capped, tc.capped)
		}
		for i, k := range tc.capped {
			if capped[i].Key != k || capped[i].To >= capped[i].From {
				t.Errorf("%s: capped[%d] = %v, want %s lowered", tc.name, i, capped[i], k)
			}
		}
	}
}
