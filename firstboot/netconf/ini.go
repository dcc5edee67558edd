package netconf

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
)

// ini is a systemd unit-style file (a .network file or a drop-in): its options, in order.
type ini []*unit.UnitOption

// parseINI reads systemd's syntax with go-systemd's unit package: [Section] headers, Key=Value
// lines, # and ; comments, and a trailing backslash continuing a line; options before any
// section are skipped, as systemd does. A line without "=" or with text after a section header,
// which systemd skips with a warning or refuses, is an error naming file: the helper then writes
// nothing rather than guess what networkd makes of it.
func parseINI(file string, data []byte) (ini, error) {
	opts, err := unit.DeserializeOptions(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s is not in systemd's unit file syntax (%v): fix or remove the line", file, err)
	}
	return opts, nil
}

// serializeINI writes options in systemd's syntax after Header.
func serializeINI(opts ...*unit.UnitOption) []byte {
	var b bytes.Buffer
	b.WriteString(Header)
	b.ReadFrom(unit.Serialize(opts))
	return b.Bytes()
}

// unfold joins a value continued over lines as systemd does: each backslash-newline becomes a
// space and the next line's leading blanks go.
func unfold(v string) string {
	lines := strings.Split(strings.TrimSuffix(v, "\n"), "\\\n")
	for i := 1; i < len(lines); i++ {
		lines[i] = strings.TrimLeft(lines[i], " \t")
	}
	return strings.Join(lines, " ")
}

// all returns every value of key in section, in order.
func (f ini) all(section, key string) []string {
	var out []string
	for _, o := range f {
		if o.Section == section && o.Name == key {
			out = append(out, unfold(o.Value))
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
