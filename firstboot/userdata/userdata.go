// Package userdata reads cloud-init user-data the way cloud-init does, every format of it, to find
// the clearwater force_ipv6 toggle and the helper's config drop-ins; and finds the user-data on
// disk (flag file, config drive, NoCloud seed, cloud-init's own copy).
//
// Parse never fails: user-data it cannot read yields no toggle and a note that says why, so an
// instance's user-data never bricks its boot.
package userdata

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
)

// Paths that the toggle and the drop-ins arrive at through write_files.
const (
	MarkerPath = "/etc/clearwater/force_ipv6"
	ConfigKey  = "clearwater"
	ForceKey   = "force_ipv6"
)

// Result is what the helper learns from one user-data blob.
type Result struct {
	// Force is the cloud-config key clearwater: {force_ipv6: bool}; nil when absent. It is the
	// highest-precedence toggle, and the only one that can say false.
	Force *bool
	// Marker is set when a write_files entry's cleaned path is MarkerPath.
	Marker bool
	// DropIns are write_files entries at config.DropIn/*.yaml: Name is the cleaned path, Data the
	// decoded content; Soft is set, as they arrived through user-data.
	DropIns []config.Source
	// Parts lists every part seen, in order.
	Parts []Part
	// Notes are for a person: what was seen and not interpreted, what was unreadable and why.
	Notes []string
}

// Part is one piece of user-data after gzip, MIME and archive unpacking.
type Part struct {
	// Type is the content type after sniffing, such as "text/cloud-config" or "text/x-shellscript".
	Type string
	// Note says what was done with the part, or why not.
	Note string
	// Name is the part's file name (MIME Content-Disposition or archive filename), if any.
	Name string
	// MergeType is the part's Merge-Type header or archive merge_how, which cloud-init would use
	// instead of its default merge; Parse does not interpret it and notes it.
	MergeType string
	// Payload is the part's content, decoded and decompressed.
	Payload []byte
}

// Parse reads one user-data blob in any format cloud-init accepts and finds the toggle and the
// drop-ins in its merged cloud-config. It never panics and never fails: unreadable input is a
// note and no toggle.
func Parse(data []byte) (r Result) {
	defer func() {
		if v := recover(); v != nil { // a bug here must not stop a boot
			r = Result{Notes: []string{fmt.Sprintf("user-data not read: internal error: %v", v)}}
		}
	}()
	gz := &budget{MaxDecompressed}
	s := split(data, gz)
	parts := s.parts
	r.Notes = s.notes
	if s.failed {
		r.Parts = parts
		return r
	}
	var merged CloudConfig
	seenConfig := false
	for i := range parts {
		p := &parts[i]
		if cc, m, ok := r.cloudConfig(p, i+1); ok {
			merged.MergeWith(cc, m)
			seenConfig = true
		}
	}
	r.Parts = parts
	if !seenConfig {
		r.note("no readable cloud-config in the user-data: no toggle from it")
		return r
	}
	r.toggle(merged.Values[ConfigKey])
	r.writeFiles(merged.Values["write_files"], gz)
	if merged.Values[ConfigKey] == nil && !r.Marker && len(r.DropIns) == 0 {
		r.note("cloud-config has no %s key and no write_files entry for the marker or a drop-in: no toggle from it", ConfigKey)
	}
	return r
}

// maxNotes bounds Notes, which hostile user-data could otherwise make as long as itself.
const maxNotes = 200

func (r *Result) note(format string, a ...any) {
	switch {
	case len(r.Notes) < maxNotes:
		r.Notes = append(r.Notes, fmt.Sprintf(format, a...))
	case len(r.Notes) == maxNotes:
		r.Notes = append(r.Notes, "more notes left out")
	}
}

// cloudConfig decodes a part that carries cloud-config (directly or as a jinja template), and
// notes every other part.
func (r *Result) cloudConfig(p *Part, n int) (CloudConfig, Merger, bool) {
	label := fmt.Sprintf("part %d (%s)", n, p.Type)
	if p.Note != "" {
		r.note("%s: %s", label, p.Note)
	}
	payload := p.Payload
	switch p.Type {
	case TypeCloudConfig:
	case TypeJinja:
		body := jinjaBody(payload)
		if Sniff(body) != TypeCloudConfig {
			p.Note = "jinja template not rendered; its body is not cloud-config: not interpreted"
			r.note("%s: %s", label, p.Note)
			return CloudConfig{}, Merger{}, false
		}
		payload = body
	case TypeCloudConfigArchive:
		return CloudConfig{}, Merger{}, false // its entries follow as parts of their own
	default:
		if p.Note == "" {
			p.Note = notInterpreted(p)
			r.note("%s: %s", label, p.Note)
		}
		return CloudConfig{}, Merger{}, false
	}
	cc, err := DecodeCloudConfig(payload)
	if err != nil {
		p.Note = "cloud-config not read: " + err.Error()
		r.note("%s: %s", label, p.Note)
		return CloudConfig{}, Merger{}, false
	}
	p.Note = "cloud-config keys: " + strings.Join(cc.Keys, ", ")
	if p.Type == TypeJinja {
		p.Note = "jinja template read without rendering (best effort); " + p.Note
		r.note("%s: %s", label, p.Note)
	}
	if HasBOM(payload) {
		r.note("%s: starts with a UTF-8 byte-order mark, which cloud-init does not accept: read anyway, but cloud-init itself ignores this part", label)
	}
	_, how := cc.Values["merge_how"]
	_, typ := cc.Values["merge_type"]
	m, err := MergerFor(&cc, p.MergeType)
	if err != nil {
		p.Note = "merge type not understood (" + err.Error() + "): cloud-init skips this part"
		r.note("%s: %s", label, p.Note)
		return CloudConfig{}, Merger{}, false
	}
	if how || typ || p.MergeType != "" {
		r.note("%s: merges as its merge_how or Merge-Type says, not by the default %s", label, DefaultMergeType)
	}
	return cc, m, true
}

// jinjaBody is a template without its "## template: jinja" line, unrendered.
func jinjaBody(p []byte) []byte {
	s := string(trimLeadingSpace(stripBOM(p)))
	_, body, _ := strings.Cut(s, "\n")
	return []byte(body)
}

func notInterpreted(p *Part) string {
	switch {
	case strings.HasPrefix(p.Type, TypeShellScript):
		return "shell script: seen, not run"
	case p.Type == TypeBoothook:
		return "boothook: seen, not run"
	case p.Type == TypeInclude || p.Type == TypeIncludeOnce:
		return fmt.Sprintf("include of %d URL(s): never fetched", len(includeURLs(p.Payload)))
	case p.Type == TypePartHandler:
		return "part handler: seen, not run"
	case p.Type == TypeCloudConfigJSONP:
		return "cloud-config JSON patch: not interpreted"
	case p.Type == TypeNotMultipart || p.Type == TypePlain:
		return "no known header (#cloud-config, #!, ...): cloud-init ignores it too"
	}
	return "not interpreted"
}

// includeURLs lists the URLs of an include part (one a line, after the #include header).
func includeURLs(p []byte) []string {
	var urls []string
	for _, line := range strings.Split(string(p), "\n") {
		line = strings.TrimSpace(line)
		for _, h := range []string{"#include-once", "#include"} {
			if len(line) >= len(h) && strings.EqualFold(line[:len(h)], h) {
				line = strings.TrimSpace(line[len(h):])
				break
			}
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			urls = append(urls, line)
		}
	}
	return urls
}

func quote(s string) string {
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return strconv.Quote(s)
}

// cleanPath makes a write_files path absolute and clean, as cloud-init's os.path.abspath does
// (cloud-init runs from /, so a relative path is taken from /).
func cleanPath(p string) string {
	return path.Clean("/" + p)
}
