// Package status is the helper's report: what it decided and why, as `run --json` and
// `plan --json` print it and as the status file of each boot records it. Tools and tests decode
// it with this type rather than a copy of its fields.
package status

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/aioconfig"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
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
	Changes  []aioconfig.Change `json:"changes"`
	// NotWritten are the changes that a run decided on but could not make (Error says why):
	// those files are as they were.
	NotWritten []aioconfig.Change `json:"not_written"`
	Version    string             `json:"version"`
	Time       string             `json:"time,omitempty"` // in the status file: when it was written
}

// MarshalJSON encodes the report with every list as [] when it is empty, never null, so that
// `jq '.warnings[]'` and typed clients work on every report.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // without this method
	p := plain(r)
	p.Reasons = nonNil(p.Reasons)
	p.Warnings = nonNil(p.Warnings)
	p.Changes = nonNil(p.Changes)
	p.NotWritten = nonNil(p.NotWritten)
	return json.Marshal(p)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
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

// Summary is the report for a person. It says what was written, what was not and what was left
// as it was, and never calls the config up to date when writing it failed.
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
	for _, c := range r.NotWritten {
		fmt.Fprintf(&b, "not done: %s %s (left as it was)\n", c.Action, c.Path)
	}
	b.WriteString(r.outcome())
	for _, s := range r.Reasons {
		fmt.Fprintf(&b, "  because: %s\n", s)
	}
	for _, s := range r.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", s)
	}
	return b.String()
}

// outcome is the line after the changes that says what the run left, where there is one to say.
func (r Report) outcome() string {
	switch {
	case r.Family == "":
		return ""
	case r.Error != "" && len(r.Changes) == 0:
		return "nothing written: Clearwater's config is left as it was\n"
	case r.Error != "":
		return "partly written: the changes listed above without \"not done\" were made; every other file is left as it was\n"
	case len(r.Changes) == 0:
		return "config already up to date: nothing to write\n"
	}
	return ""
}

// Read reads the status file under root.
func Read(root string) (Report, error) {
	var r Report
	err := ReadJSON(root, File, &r)
	return r, err
}

// ReadJSON decodes the JSON file name under root into v. A missing file is an error that matches
// fs.ErrNotExist; every error names the file.
func ReadJSON(root, name string, v any) error {
	data, err := rootfs.ReadFileIn(root, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return rootfs.PathError("decode", name, err)
	}
	return nil
}

// WriteJSON writes v as indented JSON to the file name under root, atomically (rootfs.WriteFile),
// creating its folder.
func WriteJSON(root, name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	return rootfs.WriteFile(r, name, append(data, '\n'), rootfs.FileMode)
}
