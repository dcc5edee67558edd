package userdata

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Bounds that keep hostile user-data from exhausting the helper.
const (
	// maxDecompressed bounds the bytes that gzip may produce across one Parse (a zip bomb stops
	// there).
	maxDecompressed = 16 << 20
	// maxDepth bounds the nesting of multipart containers.
	maxDepth = 8
	// maxParts bounds how many parts one Parse reads.
	maxParts = 1000
)

// gzipTypes are the part types that cloud-init decompresses (user_data.DECOMP_TYPES).
var gzipTypes = map[string]bool{
	"application/gzip":              true,
	"application/gzip-compressed":   true,
	"application/gzipped":           true,
	"application/x-compress":        true,
	"application/x-compressed":      true,
	"application/x-gunzip":          true,
	"application/x-gzip":            true,
	"application/x-gzip-compressed": true,
}

// splitter unpacks user-data into parts the way cloud-init's UserDataProcessor does.
type splitter struct {
	parts  []Part
	notes  []string
	gz     *budget
	full   bool // MaxParts reached, and said so
	failed bool // cloud-init would reject the whole user-data
}

// Split unpacks user-data into its parts, in order, as cloud-init does before it runs its part
// handlers: a gzip blob is decompressed, MIME multipart is walked (transfer encodings and
// gzip-typed parts decoded, text/plain and text/x-not-multipart parts typed by sniff), and a
// #cloud-config-archive is exploded into its entries. Notes say what could not be read.
func Split(data []byte) ([]Part, []string) {
	s := split(data, &budget{maxDecompressed})
	return s.parts, s.notes
}

func split(data []byte, gz *budget) *splitter {
	s := &splitter{gz: gz}
	s.blob(data)
	return s
}

func (s *splitter) note(format string, a ...any) {
	s.notes = append(s.notes, fmt.Sprintf(format, a...))
}

// fail records why cloud-init itself would not read this user-data at all: no toggle from it.
func (s *splitter) fail(format string, a ...any) {
	s.note(format+": no toggle from user-data", a...)
	s.failed = true
}

// blob reads the whole user-data (user_data.convert_string).
func (s *splitter) blob(data []byte) {
	if isGzip(data) {
		out, err := s.gz.gunzip(data)
		switch {
		case errors.Is(err, errTooBig):
			s.fail("user-data is gzip-compressed and %v", err)
			return
		case err != nil:
			s.note("user-data looks gzip-compressed but does not decompress (%v): read as it is, as cloud-init does", err)
		default:
			data = out
		}
	}
	if isMIME(data) {
		if !utf8.Valid(data) {
			s.fail("MIME user-data is not valid UTF-8: cloud-init cannot read it (it decodes the whole message as UTF-8)")
			return
		}
		s.message(data, 0)
		return
	}
	s.add(Part{Type: typeNotMultipart, Payload: data})
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

var errTooBig = fmt.Errorf("more than %d MiB decompressed in all", maxDecompressed>>20)

// budget is what gzip may still produce in one Parse: it bounds the whole blob, gzip-typed parts
// and gzip-encoded write_files together, so that no mix of them adds up to a zip bomb.
type budget struct{ left int64 }

func (b *budget) gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, b.left+1))
	if err != nil {
		return nil, err
	}
	if int64(len(out)) > b.left {
		b.left = 0
		return nil, errTooBig
	}
	b.left -= int64(len(out))
	return out, nil
}

// addNote adds to what the part's note says.
func (p *Part) addNote(s string) {
	if p.Note != "" {
		p.Note += "; "
	}
	p.Note += s
}

// message walks one MIME entity: containers are descended into, leaves become parts.
func (s *splitter) message(msg []byte, depth int) {
	h, body := readHeader(msg)
	typ, params := contentType(h, typePlain)
	if !strings.HasPrefix(typ, "multipart/") {
		s.leaf(h, typ, body)
		return
	}
	if depth >= maxDepth {
		s.note("multipart nested deeper than %d levels: the inner parts are not read", maxDepth)
		return
	}
	boundary := params["boundary"]
	if boundary == "" {
		s.note("%s without a boundary: its parts are not read", typ)
		return
	}
	for _, p := range splitMultipart(body, boundary) {
		if s.full {
			return
		}
		s.message(p, depth+1)
	}
}

// leaf turns one MIME leaf into a part: transfer encoding undone, gzip undone, type settled.
func (s *splitter) leaf(h header, typ string, body []byte) {
	p := Part{Type: typ, Name: filename(h), MergeType: mergeType(h)}
	if !isASCII(body) {
		body = rawUnicodeEscape(body)
		p.Note = "non-ASCII text in a MIME part: altered as cloud-init (Python's email) alters it; use base64 for such parts"
	}
	payload, err := decodeTransfer(h.get("Content-Transfer-Encoding"), body)
	if err != nil {
		p.addNote(fmt.Sprintf("%s transfer encoding does not decode (%v): read as it is", h.get("Content-Transfer-Encoding"), err))
	}
	if gzipTypes[typ] {
		out, err := s.gz.gunzip(payload)
		if err != nil {
			p.addNote(fmt.Sprintf("%s part does not decompress (%v): skipped", typ, err))
			p.Payload = payload
			s.record(p)
			return
		}
		payload, typ = out, typePlain
	}
	p.Type, p.Payload = typ, payload
	s.add(p)
}

// add settles a part's type by sniffing where cloud-init does, then records it; an archive is
// followed by its entries.
func (s *splitter) add(p Part) {
	switch p.Type {
	case typePlain, typeNotMultipart, typeShellScript:
		if t := sniff(p.Payload); t != "" {
			p.Type = t
		}
	}
	if p.Type != typeCloudConfigArchive {
		s.record(p)
		return
	}
	entries, note := s.archive(p.Payload)
	p.Note = note
	for _, e := range append([]Part{p}, entries...) {
		s.record(e)
	}
}

// record appends a part, up to maxParts.
func (s *splitter) record(p Part) {
	if len(s.parts) < maxParts {
		s.parts = append(s.parts, p)
		return
	}
	if !s.full {
		s.note("more than %d parts: the rest are not read", maxParts)
		s.full = true
	}
}

// archive explodes a #cloud-config-archive: a YAML list whose items are a payload string or a
// mapping {content, type, filename, ...}. An item without a type is typed by sniff, and
// defaults to text/cloud-config. As in cloud-init, items are not unpacked any further.
func (s *splitter) archive(payload []byte) (entries []Part, note string) {
	var doc yaml.Node
	err := yaml.Unmarshal(stripBOM(payload), &doc)
	if err == nil {
		err = checkTags(&doc)
	}
	if err != nil {
		return nil, "archive is not valid YAML (" + yamlError(err) + "): its entries are not read"
	}
	root := resolve(docRoot(&doc))
	if root == nil || root.Kind != yaml.SequenceNode {
		return nil, "archive is not a YAML list: its entries are not read"
	}
	for i, item := range root.Content {
		p, err := archiveEntry(resolve(item))
		var bad badType
		if errors.As(err, &bad) {
			s.fail("archive entry %d: %v: cloud-init fails on it", i+1, err)
			return nil, "archive not read"
		}
		if err != nil {
			s.note("archive entry %d: %v: skipped", i+1, err)
			continue
		}
		entries = append(entries, p)
	}
	return entries, fmt.Sprintf("archive of %d entries, read below", len(root.Content))
}

func archiveEntry(n *yaml.Node) (Part, error) {
	if n == nil {
		return Part{}, errors.New("empty")
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return Part{Type: sniffOr([]byte(n.Value), TypeCloudConfig), Payload: []byte(n.Value)}, nil
	}
	if n.Kind != yaml.MappingNode {
		return Part{}, errors.New("neither a string nor a mapping")
	}
	var p Part
	binary := false
	typ := ""
	for _, kv := range pairs(n) {
		v := resolve(kv.value)
		switch kv.key {
		case "content":
			c, ok := scalarBytes(v)
			if !ok {
				return Part{}, errors.New("content is not a string")
			}
			p.Payload, binary = c, v.Tag == "!!binary"
		case "type":
			typ = strings.ToLower(strings.TrimSpace(scalarString(v)))
		case "filename":
			p.Name = scalarString(v)
		case "Merge-Type", "X-Merge-Type": // cloud-init makes other keys part headers
			p.MergeType = scalarString(v)
		}
	}
	if typ == "" {
		def := TypeCloudConfig
		if binary {
			def = typeOctetStream
		}
		typ = sniffOr(p.Payload, def)
	}
	if !strings.Contains(typ, "/") {
		return Part{}, badType(typ)
	}
	p.Type = typ
	return p, nil
}

// badType is an archive entry's type without a "/", on which cloud-init raises.
type badType string

func (t badType) Error() string { return fmt.Sprintf("type %q is not a MIME type", string(t)) }

func sniffOr(payload []byte, def string) string {
	if t := sniff(payload); t != "" {
		return t
	}
	return def
}

// filename is the part's name from Content-Disposition (make-mime and write-mime-multipart set it).
func filename(h header) string {
	_, params, err := mime.ParseMediaType(h.get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["filename"]
}

// mergeType is the part's Merge-Type (else X-Merge-Type) header. cloud-init hands its part
// handlers the headers as a dict, so these names match with their case.
func mergeType(h header) string {
	for _, name := range []string{"Merge-Type", "X-Merge-Type"} {
		for _, f := range h {
			if f.name == name && f.value != "" {
				return f.value
			}
		}
	}
	return ""
}
