package userdata

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
	"unicode/utf8"
)

// This file reads MIME the lenient way Python's email package does (cloud-init's parser): a
// malformed header line ends the header, a missing closing boundary ends the last part at the end
// of the input, and a transfer encoding that does not decode leaves the payload as it is.

// mimeSniffLen is how far cloud-init looks for "mime-version:" (user_data.convert_string).
const mimeSniffLen = 4096

// isMIME reports whether cloud-init would parse data as a MIME message.
func isMIME(data []byte) bool {
	head := data[:min(len(data), mimeSniffLen)]
	return bytes.Contains(bytes.ToLower(head), []byte("mime-version:"))
}

type field struct{ name, value string }

type header []field

// get returns the value of the first field called name (case-insensitive), or "".
func (h header) get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return f.value
		}
	}
	return ""
}

// readHeader splits a message into its header fields and its body. The header ends at the first
// empty line, or (as Python's feedparser does) at the first line that is not a header line.
func readHeader(msg []byte) (header, []byte) {
	var h header
	rest := msg
	for len(rest) > 0 {
		line, next := cutLine(rest)
		text := strings.TrimRight(string(line), "\r\n")
		switch {
		case text == "":
			return h, next
		case (text[0] == ' ' || text[0] == '\t') && len(h) > 0:
			h[len(h)-1].value += " " + strings.TrimSpace(text)
		default:
			name, value, ok := strings.Cut(text, ":")
			if !ok || !validFieldName(name) {
				return h, rest
			}
			h = append(h, field{name: strings.TrimSpace(name), value: strings.TrimSpace(value)})
		}
		rest = next
	}
	return h, nil
}

// validFieldName follows Python's headerRE: printable ASCII except ':' and space.
func validFieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// cutLine returns the first line of b (with its line break) and the rest.
func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1], b[i+1:]
	}
	return b, nil
}

// contentType returns the media type (lower case) and its parameters; def when the field is
// missing or unreadable, as Python's get_content_type does.
func contentType(h header, def string) (string, map[string]string) {
	v := h.get("Content-Type")
	if v == "" {
		return def, nil
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil && mt == "" {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]))
	}
	if strings.Count(mt, "/") != 1 {
		return def, nil
	}
	if params == nil {
		params = looseParams(v)
	}
	return mt, params
}

// looseParams recovers the boundary from a Content-Type that mime.ParseMediaType rejects (say,
// a duplicate or a badly quoted parameter elsewhere in the field).
func looseParams(v string) map[string]string {
	for _, p := range strings.Split(v, ";")[1:] {
		k, val, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "boundary") {
			return map[string]string{"boundary": strings.Trim(strings.TrimSpace(val), `"`)}
		}
	}
	return nil
}

// splitMultipart returns the bodies between the boundary lines of a multipart body. A boundary
// line is "--" boundary, optionally "--", then only blanks; the line break before it belongs to
// it. Without a closing boundary the last part runs to the end, as in Python.
func splitMultipart(body []byte, boundary string) [][]byte {
	sep := []byte("--" + boundary)
	var parts [][]byte
	start := -1 // start of the current part, -1 in the preamble
	for pos := 0; pos < len(body); {
		line, _ := cutLine(body[pos:])
		if closing, ok := boundaryLine(line, sep); ok {
			if start >= 0 {
				parts = append(parts, trimLineBreak(body[start:pos]))
			}
			if closing {
				return parts
			}
			start = pos + len(line)
		}
		pos += len(line)
	}
	if start >= 0 {
		parts = append(parts, body[start:])
	}
	return parts
}

func boundaryLine(line, sep []byte) (closing, ok bool) {
	if !bytes.HasPrefix(line, sep) {
		return false, false
	}
	rest := line[len(sep):]
	closing = bytes.HasPrefix(rest, []byte("--"))
	if closing {
		rest = rest[2:]
	}
	return closing, len(bytes.Trim(rest, " \t\r\n")) == 0
}

func trimLineBreak(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// decodeTransfer undoes a part's Content-Transfer-Encoding. Like Python's get_payload(decode=True),
// a payload that does not decode is returned as it is; the error says why.
func decodeTransfer(cte string, payload []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		// Python joins the lines first, and on a length error returns them joined.
		joined := bytes.Join(bytes.FieldsFunc(payload, func(r rune) bool { return r == '\n' || r == '\r' }), nil)
		out, err := decodeBase64(joined)
		if err != nil {
			return joined, err
		}
		return out, nil
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(payload)))
		if err != nil {
			return payload, err
		}
		return out, nil
	}
	return payload, nil
}

// decodeBase64 decodes as Python's non-strict base64 does: characters outside the alphabet
// (line breaks, blanks) are skipped, padding is optional, and the data ends at the first '='.
func decodeBase64(in []byte) ([]byte, error) {
	if i := bytes.IndexByte(in, '='); i >= 0 {
		in = in[:i]
	}
	clean := make([]byte, 0, len(in))
	for _, c := range in {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
			clean = append(clean, c)
		}
	}
	return base64.RawStdEncoding.DecodeString(string(clean))
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// rawUnicodeEscape re-encodes UTF-8 text as Python's email does before it undoes a transfer
// encoding (str.encode("raw-unicode-escape")): a character below U+0100 becomes one byte
// (Latin-1), any other an escape such as \u20ac. So "é" in an 8bit part reaches cloud-init as
// the lone byte 0xe9, which its YAML loader then rejects.
func rawUnicodeEscape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r < 0x100:
			out = append(out, byte(r))
		case r <= 0xffff:
			out = fmt.Appendf(out, "\\u%04x", r)
		default:
			out = fmt.Appendf(out, "\\U%08x", r)
		}
		b = b[n:]
	}
	return out
}
