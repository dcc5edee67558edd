package userdata

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// How Render treats the operator's user-data.
const (
	baseEmpty       = iota // nothing: ours alone
	baseCloudConfig        // one #cloud-config document: merged key by key
	baseWrapped            // anything else: a part of a new MIME multipart message
)

// base is the operator's user-data, unpacked from gzip and classified.
type base struct {
	data []byte // after gzip
	kind int
	typ  string // the content type cloud-init gives it
	mime bool   // data is a MIME message, nested whole
	view Result // what the helper reads from it
}

// readBase unpacks and classifies the operator's user-data, and refuses what cloud-init would
// not read or would ignore.
func readBase(data []byte) (base, error) {
	if isGzip(data) {
		out, err := (&budget{maxDecompressed}).gunzip(data)
		if err != nil {
			return base{}, fmt.Errorf("base_user_data looks gzip-compressed but does not decompress: %v", err)
		}
		data = out
	}
	b := base{data: data}
	if len(bytes.TrimSpace(data)) == 0 {
		b.kind = baseEmpty
		return b, nil
	}
	s := split(data, &budget{maxDecompressed})
	if s.failed {
		return base{}, fmt.Errorf("base_user_data is not readable user-data: %s", strings.Join(s.notes, "; "))
	}
	b.view = Parse(data)
	switch t := sniff(data); {
	case isMIME(data):
		b.kind, b.typ, b.mime = baseWrapped, ContentTypeMultipart, true
	case hasBOM(data):
		return base{}, errors.New("base_user_data starts with a UTF-8 byte-order mark, which cloud-init does not accept (it ignores such user-data): remove it")
	case t == TypeCloudConfig:
		b.kind, b.typ = baseCloudConfig, t
		if _, err := decodeCloudConfig(data); err != nil && err.Error() != "empty cloud-config" {
			return base{}, fmt.Errorf("base_user_data is #cloud-config but %v", err)
		}
	case t != "":
		b.kind, b.typ = baseWrapped, t
	default:
		return base{}, fmt.Errorf("base_user_data starts with %s, no header that cloud-init knows (#cloud-config, #!, #cloud-boothook, #include, #cloud-config-archive, ## template: jinja, or a MIME message): cloud-init would ignore it", quote(firstLine(data)))
	}
	return b, nil
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(trimLeadingSpace(b)), "\n")
	return strings.TrimRight(line, "\r")
}

// helperFiles names the base's write_files entries that the helper reads, for an error.
func (b base) helperFiles() string {
	var names []string
	if b.view.Marker {
		names = append(names, MarkerPath)
	}
	for _, d := range b.view.DropIns {
		names = append(names, d.Name)
	}
	return strings.Join(names, ", ")
}

// wrapMIME makes a multipart/mixed message of the operator's user-data, byte for byte, and our
// cloud-config part. A MIME base is nested whole (its own headers become the part's); any other
// base becomes a part of the type cloud-init gives it.
func wrapMIME(b base, ours []byte) []byte {
	boundary := pickBoundary(b.data, ours)
	var m bytes.Buffer
	fmt.Fprintf(&m, "Content-Type: multipart/mixed; boundary=%q\nMIME-Version: 1.0\n\n", boundary)
	fmt.Fprintf(&m, "--%s\n", boundary)
	if b.mime {
		m.Write(b.data)
	} else {
		writePart(&m, b.typ, nil, b.data)
	}
	// The line break before a boundary belongs to the boundary: the part keeps its last byte.
	fmt.Fprintf(&m, "\n--%s\n", boundary)
	writePart(&m, TypeCloudConfig, []string{
		`Content-Disposition: attachment; filename="clearwater-userdata.cfg"`,
		"Merge-Type: " + ourMergeType,
	}, ours)
	fmt.Fprintf(&m, "\n--%s--\n", boundary)
	return m.Bytes()
}

// writePart writes one MIME leaf. Text that is ASCII with plain line breaks goes as it is (7bit),
// so a person can read it; anything else in base64, which both cloud-init and Parse undo byte
// for byte (Python's email would alter non-ASCII 8bit text).
func writePart(m *bytes.Buffer, typ string, extra []string, payload []byte) {
	fmt.Fprintf(m, "Content-Type: %s; charset=\"us-ascii\"\nMIME-Version: 1.0\n", typ)
	plain := isASCII(payload) && !bytes.ContainsRune(payload, '\r')
	if plain {
		m.WriteString("Content-Transfer-Encoding: 7bit\n")
	} else {
		m.WriteString("Content-Transfer-Encoding: base64\n")
	}
	for _, h := range extra {
		m.WriteString(h + "\n")
	}
	m.WriteString("\n")
	if plain {
		m.Write(payload)
		return
	}
	enc := base64.StdEncoding.EncodeToString(payload)
	for len(enc) > 76 {
		m.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	m.WriteString(enc)
}

// pickBoundary derives a boundary from the content, so that the same inputs give the same bytes,
// and makes sure that no line of the content starts with it.
func pickBoundary(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	sum := h.Sum(nil)
	for i := 0; ; i++ { // a hash collision with the content is never met twice in practice
		b := fmt.Sprintf("==clearwater-userdata-%s-%d==", hex.EncodeToString(sum[:8]), i)
		clash := false
		for _, p := range parts {
			clash = clash || bytes.Contains(p, []byte("--"+b))
		}
		if !clash || i >= 100 {
			return b
		}
	}
}
