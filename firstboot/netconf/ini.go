package netconf

import (
	"path"
	"slices"
	"sort"
	"strings"
)

// ini is a systemd unit-style file: sections of key=value lines, in order.
type ini []iniEntry

type iniEntry struct{ section, key, value string }

// parseINI reads systemd's syntax: [Section] headers, Key=Value lines, # and ; comments, and a
// trailing backslash continuing a line. Lines it cannot read are skipped, as systemd does.
func parseINI(data []byte) ini {
	var out ini
	section, pending := "", ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if pending != "" {
			line, pending = pending+" "+line, ""
		}
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") || line == "" {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			pending = strings.TrimSuffix(line, "\\")
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out = append(out, iniEntry{section, strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	return out
}

// all returns every value of key in section, in order.
func (f ini) all(section, key string) []string {
	var out []string
	for _, e := range f {
		if e.section == section && e.key == key {
			out = append(out, e.value)
		}
	}
	return out
}

// last returns the value that wins for a single-valued key.
func (f ini) last(section, key string) (string, bool) {
	v := f.all(section, key)
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// globMatch matches shell globs as networkd and netplan do (fnmatch); a bad pattern matches
// nothing.
func globMatch(pattern, name string) bool {
	ok, err := path.Match(pattern, name)
	return ok && err == nil
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
