// Package userdata reads cloud-init user-data the way cloud-init does, every format of it, to find
// the clearwater force_ipv6 toggle and the helper's config drop-ins (Parse, Toggle); and renders
// user-data that carries them, for the datasource (Render). Package discover finds it on disk.
//
// Parse never fails: user-data it cannot read yields no toggle and a note that says why, so an
// instance's user-data never bricks its boot.
//
// How it reads, as cloud-init 22.4 does (TestAgainstCloudInit checks the table of inputs against
// cloud-init's own code):
//   - A gzip blob is decompressed; a blob with "mime-version:" in its first 4096 bytes is MIME
//     (it must be UTF-8 as a whole, or cloud-init rejects it). Parts are walked through nested
//     multipart containers, transfer encodings undone (base64 leniently, quoted-printable),
//     gzip-typed parts decompressed, and text/plain, text/x-not-multipart and
//     text/x-shellscript parts typed by how they start (sniff).
//   - A #cloud-config-archive becomes its entries; an entry without a type is typed by sniff,
//     else is text/cloud-config.
//   - Every cloud-config part (a MIME part typed text/cloud-config needs no header line) merges
//     into the parts before it by its merge_how key or Merge-Type header, else by cloud-init's
//     default, under which a later part's top-level key (clearwater, write_files) replaces an
//     earlier one's whole: write_files of two parts are not appended unless a part says
//     list(append). The toggle and write_files are read from the merged result.
//   - Scripts, boothooks, part handlers and JSON patches are noted, never run; #include URLs are
//     noted, never fetched.
//
// Where it differs on purpose: a UTF-8 byte-order mark is skipped (cloud-init would ignore the
// part; a note says so); a "## template: jinja" part is read unrendered, its header line
// dropped, and used when the rest parses as cloud-config; and hostile input is bounded:
// maxDecompressed bytes of gzip output, maxDepth levels of multipart, maxParts parts.
package userdata

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
)

// Where user-data carries the toggle: the cloud-config key clearwater: {force_ipv6: bool}, and
// the upstream marker file that a write_files entry creates.
const (
	configKey  = "clearwater"
	forceKey   = "force_ipv6"
	MarkerPath = "/etc/clearwater/force_ipv6"
	// SettingsName names the clearwater key's settings in the helper's messages and its
	// config's Origin.
	SettingsName = "user-data key " + configKey
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
	// Settings are the clearwater key's settings but force_ipv6, as a soft source named
	// SettingsName that applies after every drop-in; nil when the key has none.
	Settings *config.Source
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
	// MergeType is the part's Merge-Type (or X-Merge-Type) header, or the same key of an archive
	// entry: with the part's merge_how key, how it merges into the parts before (see mergerFor).
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
	gz := &budget{maxDecompressed}
	s := split(data, gz)
	parts := s.parts
	r.Notes = s.notes
	if s.failed {
		r.Parts = parts
		return r
	}
	var merged cloudDoc
	seenConfig := false
	for i := range parts {
		p := &parts[i]
		if cc, m, ok := r.cloudConfig(p, i+1); ok {
			merged.mergeWith(cc, m)
			seenConfig = true
		}
	}
	r.Parts = parts
	if !seenConfig {
		r.note("no readable cloud-config in the user-data: no toggle from it")
		return r
	}
	r.toggle(merged.Values[configKey])
	r.writeFiles(merged.Values["write_files"], gz)
	if merged.Values[configKey] == nil && !r.Marker && len(r.DropIns) == 0 {
		r.note("cloud-config has no %s key and no write_files entry for the marker or a drop-in: no toggle from it", configKey)
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

// cloudConfig decodes a part that carries cloud-config (directly or as a jinja template) with
// the merger it asks for, and notes every other part.
func (r *Result) cloudConfig(p *Part, n int) (cloudDoc, merger, bool) {
	label := fmt.Sprintf("part %d (%s)", n, p.Type)
	if p.Note != "" {
		r.note("%s: %s", label, p.Note)
	}
	payload, ok := r.configPayload(p, label)
	if !ok {
		return cloudDoc{}, merger{}, false
	}
	cc, m, err := decodePart(p, payload)
	if err != nil {
		p.Note = err.Error()
		r.note("%s: %s", label, p.Note)
		return cloudDoc{}, merger{}, false
	}
	r.note("%s: %s", label, p.Note)
	if hasBOM(payload) {
		r.note("%s: starts with a UTF-8 byte-order mark, which cloud-init does not accept: read anyway, but cloud-init itself ignores this part", label)
	}
	return cc, m, true
}

// configPayload returns the cloud-config that a part carries, if any.
func (r *Result) configPayload(p *Part, label string) ([]byte, bool) {
	switch p.Type {
	case TypeCloudConfig:
		return p.Payload, true
	case typeJinja:
		body := jinjaBody(p.Payload)
		if sniff(body) == TypeCloudConfig {
			return body, true
		}
		p.Note = "jinja template not rendered; its body is not cloud-config: not interpreted"
		r.note("%s: %s", label, p.Note)
	case typeCloudConfigArchive: // its entries follow as parts of their own
	default:
		if p.Note == "" {
			p.Note = notInterpreted(p)
			r.note("%s: %s", label, p.Note)
		}
	}
	return nil, false
}

// decodePart decodes a part's cloud-config and works out how cloud-init would merge it; an error
// means cloud-init skips the part. It sets the part's note.
func decodePart(p *Part, payload []byte) (cloudDoc, merger, error) {
	cc, err := decodeCloudConfig(payload)
	if err != nil {
		return cloudDoc{}, merger{}, fmt.Errorf("cloud-config not read: %w", err)
	}
	_, how := cc.Values["merge_how"]
	_, typ := cc.Values["merge_type"]
	m, err := mergerFor(&cc, p.MergeType)
	if err != nil {
		return cloudDoc{}, merger{}, fmt.Errorf("merge type not understood (%v): cloud-init skips this part", err)
	}
	p.Note = "cloud-config keys: " + strings.Join(cc.Keys, ", ")
	if how || typ || p.MergeType != "" {
		p.Note += "; merges as its merge_how or Merge-Type says, not by the default " + defaultMergeType
	}
	if p.Type == typeJinja {
		p.Note = "jinja template read without rendering (best effort); " + p.Note
	}
	return cc, m, nil
}

// jinjaBody is a template without its "## template: jinja" line, unrendered.
func jinjaBody(p []byte) []byte {
	s := string(trimLeadingSpace(stripBOM(p)))
	_, body, _ := strings.Cut(s, "\n")
	return []byte(body)
}

func notInterpreted(p *Part) string {
	switch {
	case strings.HasPrefix(p.Type, typeShellScript):
		return "shell script: seen, not run"
	case p.Type == typeBoothook:
		return "boothook: seen, not run"
	case p.Type == typeInclude || p.Type == typeIncludeOnce:
		return fmt.Sprintf("include of %d URL(s): never fetched", len(includeURLs(p.Payload)))
	case p.Type == typePartHandler:
		return "part handler: seen, not run"
	case p.Type == typeCloudConfigJSONP:
		return "cloud-config JSON patch: not interpreted"
	case p.Type == typeNotMultipart || p.Type == typePlain:
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
