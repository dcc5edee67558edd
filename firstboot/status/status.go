// Package status is the helper's report: what it decided and why, as `run --json` and
// `plan --json` print it and as the status file of each boot records it. Tools and tests decode
// it with this type rather than a copy of its fields.
package status

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/aioconfig"
)

// File is where the helper records the report of this boot, relative to the root (on tmpfs).
const File = "/run/clearwater-firstboot/status.json"

// Report is the helper's JSON contract (DESIGN "Command line").
type Report struct {
	Family      string   `json:"family"` // "ipv4", "ipv6", or "" when nothing was decided
	Address     string   `json:"address"`
	Interface   string   `json:"interface"`
	ForceIPv6   bool     `json:"force_ipv6"`
	ForceSource string   `json:"force_source"` // user-data:clearwater, user-data:write_files, marker, config, none
	Degraded    bool     `json:"degraded"`
	Changed     bool     `json:"changed"`
	Reasons     []string `json:"reasons"`
	Warnings    []string `json:"warnings"`
	Error       string   `json:"error"`

	// Beyond the contract's fields: context for a person reading the status.
	Mode     string             `json:"mode"`                // "run" or "plan"
	UserData string             `json:"user_data,omitempty"` // where the user-data came from
	Changes  []aioconfig.Change `json:"changes,omitempty"`
	Version  string             `json:"version"`
	Time     string             `json:"time,omitempty"` // in the status file: when it was written
}

// Reason returns the first reason that contains s, or "".
func (r Report) Reason(s string) string {
	for _, x := range r.Reasons {
		if strings.Contains(x, s) {
			return x
		}
	}
	return ""
}

// Summary is the report for a person.
func (r Report) Summary() string {
	var b strings.Builder
	if r.Family == "" {
		fmt.Fprintf(&b, "no address decided: %s\n", r.Error)
	} else {
		deg := ""
		if r.Degraded {
			deg = " (degraded: IPv6 was forced but none is usable)"
		}
		fmt.Fprintf(&b, "%s %s on %s%s\n", r.Family, r.Address, r.Interface, deg)
		if r.Error != "" {
			fmt.Fprintf(&b, "error: %s\n", r.Error)
		}
	}
	fmt.Fprintf(&b, "force_ipv6: %t (from %s)\n", r.ForceIPv6, r.ForceSource)
	for _, c := range r.Changes {
		verb := "would " + c.Action
		if r.Mode == "run" {
			verb = c.Action
		}
		fmt.Fprintf(&b, "%s %s\n", verb, c.Path)
	}
	if r.Family != "" && len(r.Changes) == 0 {
		b.WriteString("config already up to date: nothing to write\n")
	}
	for _, s := range r.Reasons {
		fmt.Fprintf(&b, "  because: %s\n", s)
	}
	for _, s := range r.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", s)
	}
	return b.String()
}

// Read reads the status file under root.
func Read(root string) (Report, error) {
	var r Report
	path := filepath.Join(root, File)
	data, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// WriteJSON writes v as indented JSON to path, creating its folder, through a temporary file and
// a rename so that a reader never sees half a file.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
