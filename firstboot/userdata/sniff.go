package userdata

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// Content types of user-data parts, as cloud-init names them.
const (
	TypeCloudConfig        = "text/cloud-config"
	typeCloudConfigArchive = "text/cloud-config-archive"
	typeCloudConfigJSONP   = "text/cloud-config-jsonp"
	typeShellScript        = "text/x-shellscript"
	typeBoothook           = "text/cloud-boothook"
	typeInclude            = "text/x-include-url"
	typeIncludeOnce        = "text/x-include-once-url"
	typePartHandler        = "text/part-handler"
	typeJinja              = "text/jinja2"
	typePlain              = "text/plain"
	typeNotMultipart       = "text/x-not-multipart"
	typeOctetStream        = "application/octet-stream"
)

// prefixes maps the start of a payload to its type, longest prefix first, as cloud-init's
// handlers.INCLUSION_TYPES_MAP sorted by INCLUSION_SRCH. The order matters: "#cloud-config-archive"
// must be tried before "#cloud-config", and "#include-once" before "#include".
var prefixes = []struct{ prefix, typ string }{
	{"text/x-shellscript-per-instance", "text/x-shellscript-per-instance"},
	{"text/x-shellscript-per-boot", "text/x-shellscript-per-boot"},
	{"text/x-shellscript-per-once", "text/x-shellscript-per-once"},
	{"#cloud-config-archive", typeCloudConfigArchive},
	{"#cloud-config-jsonp", typeCloudConfigJSONP},
	{"## template: jinja", typeJinja},
	{"#cloud-boothook", typeBoothook},
	{"#include-once", typeIncludeOnce},
	{"#part-handler", typePartHandler},
	{"#cloud-config", TypeCloudConfig},
	{"#include", typeInclude},
	{"#!", typeShellScript},
}

// sniff returns the type that cloud-init gives a payload from how it starts (leading white space
// skipped, letters compared without case), or "" when no known prefix matches. Unlike cloud-init,
// it also skips a leading UTF-8 byte-order mark; hasBOM tells when that made the difference.
func sniff(payload []byte) string {
	p := trimLeadingSpace(bytes.TrimPrefix(payload, bom))
	for _, x := range prefixes {
		if len(p) >= len(x.prefix) && bytes.EqualFold(p[:len(x.prefix)], []byte(x.prefix)) {
			return x.typ
		}
	}
	return ""
}

var bom = []byte("\ufeff")

// hasBOM reports whether payload starts with a UTF-8 byte-order mark, which cloud-init does not
// skip: such a part is ignored by cloud-init itself.
func hasBOM(payload []byte) bool { return bytes.HasPrefix(payload, bom) }

// trimLeadingSpace skips white space as Python's str.lstrip does, invalid UTF-8 included (cloud-init
// decodes text parts with surrogate escapes, so such bytes stop the trim rather than fail it).
func trimLeadingSpace(p []byte) []byte {
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		if r == utf8.RuneError || !(unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f) {
			break
		}
		p = p[n:]
	}
	return p
}
