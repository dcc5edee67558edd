package aioconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// UpstreamConfig is the file that upstream's write_config sources for its port and prefix
// overrides: a shim that sources shared_config, local_config and user_settings.
const UpstreamConfig = "/etc/clearwater/config"

// Sproutlet is one of the SIP functions that the config names: the port it listens on and the
// prefix of its host name (<prefix>.<hostname>), in its URI and in the /etc/hosts block.
type Sproutlet struct {
	Name   string // "scscf", "icscf" or "bgcf": the shell variables <name> and <name>_prefix
	Port   int
	Prefix string
}

// sproutletNames are the sproutlets in the order of the hosts block's names after the hostname.
var sproutletNames = []string{"scscf", "bgcf", "icscf"}

// defaultSproutlets are upstream's defaults.
func defaultSproutlets() map[string]*Sproutlet {
	return map[string]*Sproutlet{
		"scscf": {"scscf", 5054, "scscf"},
		"icscf": {"icscf", 5052, "icscf"},
		"bgcf":  {"bgcf", 5053, "bgcf"},
	}
}

// maxSourceDepth bounds the files that UpstreamConfig sources, and what those source in turn.
const maxSourceDepth = 3

// sourceLine matches a line that sources a file: ". FILE", "source FILE", and either after a
// test and "&&" ("[ -r FILE ] && . FILE"), as upstream's shim and its scripts write them.
var sourceLine = regexp.MustCompile(`^(?:\[[^]]*\]\s*&&\s*)?(?:\.|source)\s+["']?(/[^\s"';&|]+)["']?\s*$`)

// assignment matches a shell assignment at the start of a line, exported or not.
var assignment = regexp.MustCompile(`^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

// readSproutlets returns the sproutlets as upstream's write_config sees them: its defaults, then
// the assignments of UpstreamConfig and the files it sources, the last one winning, as bash
// does. A value that Clearwater could not use (a port out of range, a prefix that is not a host
// name label) keeps the default and is a warning; a missing UpstreamConfig is upstream's defaults.
func readSproutlets(r *os.Root) (map[string]*Sproutlet, []string, error) {
	vars := map[string]string{}
	if err := sourceFile(r, UpstreamConfig, vars, 0); err != nil {
		return nil, nil, err
	}
	sp := defaultSproutlets()
	var warnings []string
	for _, name := range sproutletNames {
		s := sp[name]
		if v, ok := vars[name]; ok {
			port, err := strconv.Atoi(v)
			if err != nil || port < 1 || port > 65535 {
				warnings = append(warnings, fmt.Sprintf("%s: %s=%q is not a port (1-65535); the %s URI keeps port %d", UpstreamConfig, name, v, name, s.Port))
			} else {
				s.Port = port
			}
		}
		if v, ok := vars[name+"_prefix"]; ok {
			if v == "" || strings.Contains(v, ".") || !config.ValidHostname(v) {
				warnings = append(warnings, fmt.Sprintf("%s: %s_prefix=%q is not a host name label (letters, digits, '-'); the %s host name keeps %q", UpstreamConfig, name, v, name, s.Prefix))
			} else {
				s.Prefix = v
			}
		}
	}
	return sp, warnings, nil
}

// sourceFile reads the assignments of the sproutlets' variables in name into vars, following
// the files it sources; a missing file is skipped, as a shim's "[ -r FILE ] &&" does.
func sourceFile(r *os.Root, name string, vars map[string]string, depth int) error {
	data, err := rootfs.ReadFile(r, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("aioconfig: %w", err)
	}
	for _, l := range splitLines(data) {
		text := strings.TrimSpace(string(l.text))
		if m := sourceLine.FindStringSubmatch(text); m != nil {
			if depth+1 < maxSourceDepth {
				if err := sourceFile(r, m[1], vars, depth+1); err != nil {
					return err
				}
			}
			continue
		}
		if m := assignment.FindStringSubmatch(text); m != nil && isSproutletVar(m[1]) {
			vars[m[1]] = shellValue(m[2])
		}
	}
	return nil
}

func isSproutletVar(v string) bool {
	return slices.Contains(sproutletNames, strings.TrimSuffix(v, "_prefix"))
}

// shellValue is the value of a simple assignment: quotes removed, a trailing comment dropped.
func shellValue(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
		if i := strings.IndexByte(v[1:], v[0]); i >= 0 {
			return v[1 : i+1]
		}
	}
	if i := strings.IndexAny(v, " \t#;"); i >= 0 {
		v = v[:i]
	}
	return v
}
