package config

import (
	"fmt"
	"slices"
	"time"
)

// WaitsFormula names the settings that Waits adds up, for a person.
const WaitsFormula = "ipv4_wait + ipv6_timeout + probe_after + metadata_timeout"

// Waits bounds how long a run waits in all with these settings: for addresses (ipv6_timeout,
// then ipv4_wait for a fallback), for a probe to start, for the metadata service. The init
// system's start timeout is set above it (the provisioner), and CapWaits keeps it below that.
func (c Config) Waits() time.Duration {
	return c.IPv4Wait + c.IPv6Timeout + c.ProbeAfter + c.MetadataTimeout
}

// Capped is one wait that CapWaits lowered.
type Capped struct {
	Key      string // the setting, as in the config file
	From, To time.Duration
}

func (c Capped) String() string { return fmt.Sprintf("%s %s capped to %s", c.Key, c.From, c.To) }

// CapWaits lowers the longest waits, to one level, so that Waits is at most limit, and returns
// what it lowered in the order of WaitsFormula. Shorter waits keep their values: the cap falls
// on the ones a config raised. A limit of 0 or less sets every wait to 0.
func (c *Config) CapWaits(limit time.Duration) []Capped {
	waits := []struct {
		key string
		d   *time.Duration
	}{{"ipv4_wait", &c.IPv4Wait}, {"ipv6_timeout", &c.IPv6Timeout}, {"probe_after", &c.ProbeAfter}, {"metadata_timeout", &c.MetadataTimeout}}
	if c.Waits() <= limit {
		return nil
	}
	level := capLevel([]time.Duration{c.IPv4Wait, c.IPv6Timeout, c.ProbeAfter, c.MetadataTimeout}, limit)
	var capped []Capped
	for _, w := range waits {
		if *w.d > level {
			capped = append(capped, Capped{Key: w.key, From: *w.d, To: level})
			*w.d = level
		}
	}
	return capped
}

// capLevel returns the largest whole second L such that the sum of min(d, L) over ds is at most
// limit (every d below L stays as it is).
func capLevel(ds []time.Duration, limit time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	rest := limit
	for i, d := range ds {
		n := time.Duration(len(ds) - i)
		if d*n > rest {
			return (rest / n).Truncate(time.Second)
		}
		rest -= d
	}
	return ds[len(ds)-1]
}
