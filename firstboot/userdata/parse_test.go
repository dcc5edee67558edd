package userdata

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// parseCase is one row of the table: an input and everything Parse must learn from it.
type parseCase struct {
	name    string
	in      []byte
	force   *bool
	marker  bool
	dropIns map[string]string // cleaned path -> decoded content
	types   []string          // Part.Type of every part, in order
	notes   []string          // substrings that must each appear in some note
	heavy   bool              // decompresses to megabytes: no fuzz seed (each run would take seconds)
}

var (
	yes = ptr(true)
	no  = ptr(false)
)

func ptr(b bool) *bool { return &b }

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// multipart builds a MIME message; each part is its header lines, a blank line, its body.
func multipart(boundary string, parts ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\nMIME-Version: 1.0\n\n", boundary)
	for _, p := range parts {
		fmt.Fprintf(&b, "--%s\n%s\n", boundary, p)
	}
	fmt.Fprintf(&b, "--%s--\n", boundary)
	return []byte(b.String())
}

// rawUnicodeDecode is the inverse of rawUnicodeEscape for bytes: each byte becomes the character
// of that code point, as a Latin-1 decoder makes it.
func rawUnicodeDecode(b []byte) []byte {
	var out []byte
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

func crlf(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }

const (
	forceTrue  = "#cloud-config\nclearwater:\n  force_ipv6: true\n"
	forceFalse = "#cloud-config\nclearwater:\n  force_ipv6: false\n"
	markerCC   = "#cloud-config\nwrite_files:\n  - path: /etc/clearwater/force_ipv6\n    content: \"\"\n"
	dropInYAML = "hostname: lab1\nprobe_dhcp: false\n"
	dropInPath = "/etc/clearwater/firstboot.d/50-user-data.yaml"
)

func dropInCC(encoding, content string) []byte {
	return []byte("#cloud-config\nwrite_files:\n  - path: " + dropInPath + "\n    encoding: " + encoding + "\n    content: " + content + "\n")
}

func parseCases(t testing.TB) []parseCase {
	dropIn := map[string]string{dropInPath: dropInYAML}
	cc, sh := TypeCloudConfig, typeShellScript
	return []parseCase{
		// #cloud-config and the clearwater key.
		{name: "cloud-config true", in: []byte(forceTrue), force: yes, types: []string{cc}},
		{name: "cloud-config false", in: []byte(forceFalse), force: no, types: []string{cc}},
		{name: "YAML 1.1 yes", in: []byte("#cloud-config\nclearwater: {force_ipv6: yes}\n"), force: yes, types: []string{cc}},
		{name: "YAML 1.1 Off", in: []byte("#cloud-config\nclearwater: {force_ipv6: Off}\n"), force: no, types: []string{cc}},
		{name: "quoted true is a string", in: []byte("#cloud-config\nclearwater: {force_ipv6: \"true\"}\n"),
			types: []string{cc}, notes: []string{`force_ipv6 is the string "true", not true or false`}},
		{name: "number is no bool", in: []byte("#cloud-config\nclearwater: {force_ipv6: 1}\n"),
			types: []string{cc}, notes: []string{`force_ipv6 is "1", not true or false`}},
		{name: "clearwater not a mapping", in: []byte("#cloud-config\nclearwater: true\n"),
			types: []string{cc}, notes: []string{"clearwater is \"true\", not a mapping"}},
		{name: "clearwater a list", in: []byte("#cloud-config\nclearwater: [force_ipv6]\n"),
			types: []string{cc}, notes: []string{"clearwater is a list, not a mapping"}},
		{name: "clearwater empty", in: []byte("#cloud-config\nclearwater:\n"),
			types: []string{cc}, notes: []string{"clearwater is empty, not a mapping"}},
		{name: "unknown clearwater key", in: []byte("#cloud-config\nclearwater: {force_ipv4: true}\n"),
			types: []string{cc}, notes: []string{"clearwater.force_ipv4 is not known", "clearwater has no force_ipv6"}},
		{name: "clearwater only a merge key", in: []byte("#cloud-config\nclearwater:\n  <<:\n"),
			types: []string{cc}, notes: []string{"clearwater has no force_ipv6"}},
		{name: "duplicate key: last wins", in: []byte("#cloud-config\nclearwater: {force_ipv6: true}\nclearwater: {force_ipv6: false}\n"),
			force: no, types: []string{cc}},
		{name: "anchor and merge key", in: []byte("#cloud-config\nbase: &cw {force_ipv6: true}\nclearwater:\n  <<: *cw\n"),
			force: yes, types: []string{cc}},
		{name: "alias", in: []byte("#cloud-config\nx: &t true\nclearwater: {force_ipv6: *t}\n"), force: yes, types: []string{cc}},
		{name: "upper-case header, leading blanks", in: []byte("\n  #Cloud-Config\nclearwater: {force_ipv6: true}\n"),
			force: yes, types: []string{cc}},
		{name: "header after a tab: YAML rejects it", in: []byte("\n \t#cloud-config\nclearwater: {force_ipv6: true}\n"),
			types: []string{cc}, notes: []string{"not valid YAML"}},
		{name: "CRLF", in: crlf([]byte(forceTrue)), force: yes, types: []string{cc}},
		{name: "BOM", in: append([]byte("\ufeff"), forceTrue...), force: yes, types: []string{cc},
			notes: []string{"byte-order mark"}},

		// write_files: the marker and the drop-ins.
		{name: "marker", in: []byte(markerCC), marker: true, types: []string{cc}, notes: []string{"writes the marker"}},
		{name: "marker, unclean path", in: []byte("#cloud-config\nwrite_files:\n- path: //etc/clearwater/../clearwater/./force_ipv6\n"),
			marker: true, types: []string{cc}},
		{name: "marker, relative path", in: []byte("#cloud-config\nwrite_files:\n- {path: etc/clearwater/force_ipv6}\n"),
			marker: true, types: []string{cc}},
		{name: "marker, not quite", in: []byte("#cloud-config\nwrite_files:\n- {path: /etc/clearwater/force_ipv6.bak}\n- {path: /etc/clearwater/force_ipv6/x}\n"),
			types: []string{cc}, notes: []string{"no clearwater key and no write_files entry for the marker or a drop-in"}},
		{name: "marker, deferred and appended", in: []byte("#cloud-config\nwrite_files:\n- {path: /etc/clearwater/force_ipv6, defer: true, append: true}\n"),
			marker: true, types: []string{cc}, notes: []string{"defer: cloud-init writes it late", "append: cloud-init appends"}},
		{name: "drop-in, text", in: []byte("#cloud-config\nwrite_files:\n- path: " + dropInPath + "\n  content: |\n    hostname: lab1\n    probe_dhcp: false\n"),
			dropIns: dropIn, types: []string{cc}, notes: []string{"writes the config drop-in"}},
		{name: "drop-in, b64", in: dropInCC("b64", b64([]byte(dropInYAML))), dropIns: dropIn, types: []string{cc}},
		{name: "drop-in, base64 upper case", in: dropInCC("BASE64", b64([]byte(dropInYAML))), dropIns: dropIn, types: []string{cc}},
		{name: "drop-in, gz+b64", in: dropInCC("gz+b64", b64(gz(t, []byte(dropInYAML)))), dropIns: dropIn, types: []string{cc}},
		{name: "drop-in, gzip+base64", in: dropInCC("gzip+base64", b64(gz(t, []byte(dropInYAML)))), dropIns: dropIn, types: []string{cc}},
		{name: "drop-in, gzip of !!binary", in: dropInCC("gzip", "!!binary "+b64(gz(t, []byte(dropInYAML)))), dropIns: dropIn, types: []string{cc}},
		{name: "drop-in, gz of !!binary", in: dropInCC("gz", "!!binary |\n      "+b64(gz(t, []byte(dropInYAML)))), dropIns: dropIn, types: []string{cc}},
		{name: "drop-in, unknown encoding is text", in: dropInCC("rot13", "'hostname: lab1'"),
			dropIns: map[string]string{dropInPath: "hostname: lab1"}, types: []string{cc}},
		{name: "drop-in, bad gzip", in: dropInCC("gz+b64", b64([]byte("not gzip"))),
			types: []string{cc}, notes: []string{"gzip: ", "not used as config"}},
		{name: "drop-in, content a list", in: []byte("#cloud-config\nwrite_files:\n- {path: " + dropInPath + ", content: [a]}\n"),
			types: []string{cc}, notes: []string{"content is not a string"}},
		{name: "drop-in, no content", in: []byte("#cloud-config\nwrite_files:\n- {path: " + dropInPath + "}\n"),
			dropIns: map[string]string{dropInPath: ""}, types: []string{cc}},
		{name: "firstboot.d, not yaml", in: []byte("#cloud-config\nwrite_files:\n- {path: /etc/clearwater/firstboot.d/x.conf, content: a}\n"),
			types: []string{cc}, notes: []string{"not a .yaml drop-in"}},
		{name: "baked config not taken", in: []byte("#cloud-config\nwrite_files:\n- {path: /etc/clearwater/firstboot.yaml, content: 'force_ipv6: true'}\n"),
			types: []string{cc}, notes: []string{"baked config is not taken from user-data"}},
		{name: "write_files not a list", in: []byte("#cloud-config\nwrite_files: {path: /etc/clearwater/force_ipv6}\n"),
			types: []string{cc}, notes: []string{"write_files is a mapping, not a list"}},
		{name: "write_files odd entries", in: []byte("#cloud-config\nwrite_files:\n- just a string\n- {content: x}\n- path: /etc/clearwater/force_ipv6\n"),
			marker: true, types: []string{cc}, notes: []string{"entry 1 is the string", "entry 2 has no path"}},

		// Tool-made MIME (see testdata/gen.sh) and hand-made variants.
		{name: "make-mime", in: testdata(t, "make-mime.txt"), force: yes, types: []string{cc, sh}, notes: []string{"shell script: seen, not run"}},
		{name: "make-mime CRLF", in: crlf(testdata(t, "make-mime.txt")), force: yes, types: []string{cc, sh}},
		{name: "make-mime marker", in: testdata(t, "make-mime-marker.txt"), marker: true, dropIns: dropIn, types: []string{sh, cc}},
		{name: "write-mime-multipart --gzip", in: testdata(t, "wmm-gzip.bin"), force: yes, types: []string{cc, sh}},
		{name: "write-mime-multipart", in: testdata(t, "wmm.txt"), marker: true, dropIns: dropIn, types: []string{sh, cc}},
		{name: "MIME gzip-typed base64 part",
			in:    multipart("b", "Content-Type: application/x-gzip\nContent-Transfer-Encoding: base64\n\n"+b64(gz(t, []byte(forceTrue)))),
			force: yes, types: []string{cc}},
		{name: "MIME gzip-typed binary part", in: multipart("b", "Content-Type: application/gzip\n\n"+string(gz(t, []byte(markerCC)))),
			notes: []string{"MIME user-data is not valid UTF-8", "no toggle from user-data"}},
		{name: "MIME gzip-typed 8bit part in UTF-8", in: multipart("b", "Content-Type: application/gzip\nContent-Transfer-Encoding: 8bit\n\n"+string(rawUnicodeDecode(gz(t, []byte(markerCC))))),
			marker: true, types: []string{cc}, notes: []string{"non-ASCII text in a MIME part"}},
		{name: "MIME gzip-typed part, not gzip", in: multipart("b", "Content-Type: application/x-gzip\n\n"+forceTrue),
			types: []string{"application/x-gzip"}, notes: []string{"does not decompress"}},
		{name: "MIME quoted-printable",
			in:    multipart("b", "Content-Type: text/cloud-config\nContent-Transfer-Encoding: quoted-printable\n\n#cloud-config\nclearwater: {force=5Fipv6: =\ntrue}\n"),
			force: yes, types: []string{cc}},
		{name: "MIME 8bit", in: multipart("b", "Content-Type: text/cloud-config; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"+forceTrue+"# é\n"),
			types: []string{cc}, notes: []string{"non-ASCII text in a MIME part", "not valid YAML"}},
		{name: "MIME 8bit, wide characters escaped", in: multipart("b", "Content-Type: text/cloud-config\n\n"+forceTrue+"hostname: 'h€'\n"),
			force: yes, types: []string{cc}},
		{name: "MIME base64 UTF-8", in: multipart("b", "Content-Type: text/cloud-config\nContent-Transfer-Encoding: base64\n\n"+b64([]byte(forceTrue+"# é\n"))),
			force: yes, types: []string{cc}},
		{name: "non-ASCII cloud-config", in: []byte(forceTrue + "# é €\n"), force: yes, types: []string{cc}},
		{name: "MIME bad base64 read as is", in: multipart("b", "Content-Type: text/cloud-config\nContent-Transfer-Encoding: base64\n\nclearwater: {force_ipv6: on}\n"),
			force: yes, types: []string{cc}, notes: []string{"transfer encoding does not decode"}},
		{name: "MIME base64 stops at padding", in: multipart("b", "Content-Type: text/cloud-config\nContent-Transfer-Encoding: base64\n\n"+b64([]byte(forceTrue+"#"))+b64([]byte("clearwater: {}\n"))),
			force: yes, types: []string{cc}},
		{name: "MIME text/plain re-sniffed", in: multipart("b", "Content-Type: text/plain\n\n"+forceTrue), force: yes, types: []string{cc}},
		{name: "MIME x-not-multipart re-sniffed", in: multipart("b", "Content-Type: text/x-not-multipart\n\n"+forceTrue), force: yes, types: []string{cc}},
		{name: "MIME shellscript re-sniffed", in: multipart("b", "Content-Type: text/x-shellscript\n\n"+forceFalse), force: no, types: []string{cc}},
		{name: "MIME no content type", in: multipart("b", "X-Other: 1\n\n"+forceTrue), force: yes, types: []string{cc}},
		{name: "MIME cloud-config without header", in: multipart("b", "Content-Type: text/cloud-config\n\nclearwater: {force_ipv6: true}\n"),
			force: yes, types: []string{cc}},
		{name: "MIME text/plain stays plain", in: multipart("b", "Content-Type: text/plain\n\nclearwater: {force_ipv6: true}\n"),
			types: []string{typePlain}, notes: []string{"no known header"}},
		{name: "MIME nested",
			in:    multipart("outer", "Content-Type: multipart/alternative; boundary=inner\n\n--inner\nContent-Type: text/x-shellscript\n\n#!/bin/sh\n--inner\n\n"+forceTrue+"--inner--\n", "Content-Type: text/cloud-boothook\n\n#cloud-boothook\necho\n"),
			force: yes, types: []string{sh, cc, typeBoothook}, notes: []string{"boothook: seen, not run"}},
		{name: "MIME nested too deep", in: nested(maxDepth + 5), types: nil, notes: []string{"nested deeper than 8 levels"}},
		{name: "MIME nested at the limit", in: nested(maxDepth - 1), force: yes, types: []string{cc}},
		{name: "MIME no closing boundary", in: []byte("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\npreamble\n--b\n\n" + forceTrue),
			force: yes, types: []string{cc}},
		{name: "MIME without boundary", in: []byte("MIME-Version: 1.0\nContent-Type: multipart/mixed\n\n--b\n\n" + forceTrue),
			notes: []string{"without a boundary"}},
		{name: "MIME single part", in: []byte("MIME-Version: 1.0\nContent-Type: text/cloud-config\n\n" + forceTrue), force: yes, types: []string{cc}},
		{name: "MIME header line folded", in: []byte("MIME-Version: 1.0\nContent-Type: multipart/mixed;\n boundary=\"x y\"\n\n--x y\n\n" + forceTrue + "--x y--\n"),
			force: yes, types: []string{cc}},
		{name: "mime-version after 4096 bytes is no MIME", in: []byte(strings.Repeat("\n", 4100) + "MIME-Version: 1.0\n"),
			types: []string{typeNotMultipart}, notes: []string{"no known header"}},

		// Several cloud-config parts: cloud-init's default merge, a later top-level key replaces.
		{name: "merge: later clearwater replaces", in: multipart("b", "\n"+forceTrue, "\n"+forceFalse), force: no, types: []string{cc, cc}},
		{name: "merge: later write_files replaces", in: multipart("b", "\n"+markerCC, "\n#cloud-config\nwrite_files: [{path: /tmp/x}]\n"),
			types: []string{cc, cc}},
		{name: "merge: other keys kept", in: multipart("b", "\n"+markerCC, "\n"+forceFalse), force: no, marker: true, types: []string{cc, cc}},
		{name: "merge: Merge-Type list(append)", in: multipart("b", "\n"+markerCC, "Merge-Type: list(append)+dict(recurse_array)+str()\n\n#cloud-config\nwrite_files: [{path: /tmp/x}]\n"),
			marker: true, types: []string{cc, cc}, notes: []string{"merges as its merge_how or Merge-Type says"}},
		{name: "merge: the datasource's Merge-Type", in: multipart("b", "\n#cloud-config\nclearwater: {force_ipv6: false}\nwrite_files: [{path: /tmp/a}]\n",
			"Merge-Type: list(append)+dict(no_replace,recurse_list)+str()\n\n"+forceTrue+"write_files: [{path: /etc/clearwater/force_ipv6}]\n"),
			force: no, marker: true, types: []string{cc, cc}},
		{name: "merge: X-Merge-Type", in: multipart("b", "\n"+markerCC, "X-Merge-Type: dict(no_replace,recurse_array)+list(prepend)\n\n#cloud-config\nwrite_files: [{path: /tmp/x}]\n"),
			marker: true, types: []string{cc, cc}},
		{name: "merge: header names keep their case", in: multipart("b", "\n"+markerCC, "merge-type: list(append)+dict(recurse_array)+str()\n\n#cloud-config\nwrite_files: [{path: /tmp/x}]\n"),
			types: []string{cc, cc}},
		{name: "merge: merge_how string", in: multipart("b", "\n"+markerCC, "\n#cloud-config\nmerge_how: 'dict(recurse_array,no_replace)+list(append)'\nwrite_files: [{path: /tmp/x}]\n"),
			marker: true, types: []string{cc, cc}},
		{name: "merge: merge_how mappings", in: multipart("b", "\n"+markerCC+"clearwater: {force_ipv6: true}\n", "\n#cloud-config\nmerge_how: [{name: list, settings: [append]}, {name: dict, settings: [no_replace, recurse_list]}]\nwrite_files: [{path: /tmp/x}]\nclearwater: {force_ipv6: false}\n"),
			force: yes, marker: true, types: []string{cc, cc}},
		{name: "merge: merge_type lists", in: multipart("b", "\n"+markerCC, "\n#cloud-config\nmerge_type: [[list, append], [dict, recurse_array]]\nwrite_files: [{path: /tmp/x}]\n"),
			marker: true, types: []string{cc, cc}},
		{name: "merge: merge_how replace", in: multipart("b", "\n"+forceTrue, "\n#cloud-config\nmerge_how: [{name: list, settings: [append]}, {name: dict, settings: [replace]}]\nclearwater: {force_ipv6: false}\n"),
			force: no, types: []string{cc, cc}},
		{name: "merge: no dict merger merges nothing", in: multipart("b", "\n"+forceTrue, "Merge-Type: list(append)\n\n"+forceFalse+"write_files: [{path: /etc/clearwater/force_ipv6}]\n"),
			force: yes, types: []string{cc, cc}},
		{name: "merge: first merger of a type wins", in: multipart("b", "\n"+forceTrue, "Merge-Type: dict(no_replace)+dict(replace)\n\n"+forceFalse),
			force: yes, types: []string{cc, cc}},
		// An earlier clearwater: on is a bool to cloud-init (YAML 1.1), and no merger takes a bool:
		// a later mapping merged with no_replace leaves it, even with a str merger. Issue 13.
		{name: "merge: YAML 1.1 bool stays under no_replace", in: multipart("b", "\n#cloud-config\nclearwater: on\n", "Merge-Type: dict(no_replace)\n\n"+forceFalse),
			types: []string{cc, cc}, notes: []string{`clearwater is "on", not a mapping`}},
		{name: "merge: YAML 1.1 bool stays under str()", in: multipart("b", "\n#cloud-config\nclearwater: on\n", "Merge-Type: dict(no_replace)+list()+str()\n\n"+forceFalse),
			types: []string{cc, cc}, notes: []string{`clearwater is "on", not a mapping`}},
		{name: "merge: YAML 1.1 bool stays under the datasource's Merge-Type", in: multipart("b", "\n#cloud-config\nclearwater: Off\n", "Merge-Type: list(append)+dict(no_replace,recurse_list)+str()\n\n"+forceTrue),
			types: []string{cc, cc}},
		{name: "merge: a quoted on is a string, which str() replaces", in: multipart("b", "\n#cloud-config\nclearwater: 'on'\n", "Merge-Type: dict(no_replace)+list()+str()\n\n"+forceFalse),
			force: no, types: []string{cc, cc}},
		{name: "merge: a bool is replaced by dict(replace)", in: multipart("b", "\n#cloud-config\nclearwater: yes\n", "Merge-Type: dict(replace)\n\n"+forceFalse),
			force: no, types: []string{cc, cc}},
		{name: "merge: allow_delete", in: multipart("b", "\n"+markerCC, "Merge-Type: dict(no_replace,allow_delete)\n\n#cloud-config\nwrite_files:\n"),
			types: []string{cc, cc}},
		{name: "merge: list replace is by index", in: multipart("b", "\n#cloud-config\nwrite_files: [{path: /tmp/a}, {path: /etc/clearwater/force_ipv6}]\n", "Merge-Type: dict(no_replace,recurse_array)+list(replace)\n\n#cloud-config\nwrite_files: [{path: /tmp/b}]\n"),
			marker: true, types: []string{cc, cc}},
		{name: "merge: list replace by index drops the marker", in: multipart("b", "\n"+markerCC, "Merge-Type: dict(no_replace,recurse_array)+list()\n\n#cloud-config\nwrite_files: [{path: /tmp/b}]\n"),
			types: []string{cc, cc}},
		{name: "merge: recurse_dict in lists", in: multipart("b", "\n#cloud-config\nwrite_files: [{path: /etc/clearwater/force_ipv6}]\n", "Merge-Type: dict(no_replace,recurse_array)+list(recurse_dict)\n\n#cloud-config\nwrite_files: [{path: /tmp/b, content: x}]\n"),
			marker: true, types: []string{cc, cc}},
		{name: "merge: bad Merge-Type skips the part", in: multipart("b", "\n"+forceTrue, "Merge-Type: junk\n\n"+forceFalse),
			force: yes, types: []string{cc, cc}, notes: []string{"merge type not understood", "cloud-init skips this part"}},
		{name: "merge: unknown merger skips the part", in: multipart("b", "\n"+forceTrue, "\n"+forceFalse+"merge_how: 'foo()'\n"),
			force: yes, types: []string{cc, cc}, notes: []string{`no merger named "foo"`}},
		{name: "merge: archive entry Merge-Type", in: []byte("#cloud-config-archive\n- {type: text/cloud-config, content: 'write_files: [{path: /etc/clearwater/force_ipv6}]'}\n- {type: text/cloud-config, Merge-Type: 'list(append)+dict(recurse_array)', content: 'write_files: [{path: /tmp/x}]'}\n"),
			marker: true, types: []string{typeCloudConfigArchive, cc, cc}},

		// Archives.
		{name: "archive", in: []byte("#cloud-config-archive\n- type: text/x-shellscript\n  content: '#!/bin/sh'\n- |\n  #cloud-config\n  write_files: [{path: /etc/clearwater/force_ipv6}]\n- content: 'clearwater: {force_ipv6: true}'\n  filename: cw.yaml\n"),
			force: yes, marker: true, types: []string{typeCloudConfigArchive, sh, cc, cc}},
		{name: "archive with typed cloud-config", in: []byte("#cloud-config-archive\n- {type: text/cloud-config, content: 'clearwater: {force_ipv6: false}'}\n"),
			force: no, types: []string{typeCloudConfigArchive, cc}},
		{name: "archive, odd entries", in: []byte("#cloud-config-archive\n- {content: !!binary aGVsbG8=}\n- 42\n- [x]\n- {type: text/cloud-config, content: 'x: 1'}\n"),
			types: []string{typeCloudConfigArchive, typeOctetStream, cc}, notes: []string{"entry 2: neither a string nor a mapping", "entry 3: neither a string nor a mapping"}},
		{name: "archive, bad type", in: []byte("#cloud-config-archive\n- {content: 'clearwater: {force_ipv6: true}'}\n- {type: nonsense, content: x}\n"),
			types: []string{typeCloudConfigArchive}, notes: []string{`entry 2: type "nonsense" is not a MIME type: cloud-init fails on it`}},
		{name: "archive not a list", in: []byte("#cloud-config-archive\nclearwater: {force_ipv6: true}\n"),
			types: []string{typeCloudConfigArchive}, notes: []string{"archive is not a YAML list"}},
		{name: "archive bad YAML", in: []byte("#cloud-config-archive\n- [\n"), types: []string{typeCloudConfigArchive},
			notes: []string{"archive is not valid YAML"}},
		{name: "notes are bounded", in: []byte("#cloud-config\nwrite_files: [" + strings.Repeat("1,", 5000) + "]\n"), types: []string{cc},
			notes: []string{"write_files entry 150 is", "more notes left out"}},
		{name: "archive in MIME", in: multipart("b", "Content-Type: text/cloud-config-archive\n\n- {content: '#cloud-config\n\n    clearwater: {force_ipv6: true}'}\n"),
			force: yes, types: []string{typeCloudConfigArchive, cc}},

		// Formats that are seen and noted, never interpreted.
		{name: "boothook", in: []byte("#cloud-boothook\ntouch /etc/clearwater/force_ipv6\n"), types: []string{typeBoothook}, notes: []string{"boothook: seen, not run"}},
		{name: "script", in: []byte("#!/bin/bash\ntouch /etc/clearwater/force_ipv6\n"), types: []string{sh}, notes: []string{"shell script: seen, not run"}},
		{name: "include", in: []byte("#include\nhttp://a.example/x\n\nhttps://b.example/y\n"), types: []string{typeInclude}, notes: []string{"include of 2 URL(s): never fetched"}},
		{name: "include-once", in: []byte("#include-once http://a.example/x\n"), types: []string{typeIncludeOnce}, notes: []string{"include of 1 URL(s): never fetched"}},
		{name: "part-handler", in: []byte("#part-handler\ndef list_types(): return []\n"), types: []string{typePartHandler}, notes: []string{"part handler: seen, not run"}},
		{name: "jsonp", in: []byte("#cloud-config-jsonp\n[{\"op\": \"add\", \"path\": \"/clearwater\", \"value\": {\"force_ipv6\": true}}]\n"),
			types: []string{typeCloudConfigJSONP}, notes: []string{"JSON patch: not interpreted"}},

		// Jinja: best effort.
		{name: "jinja cloud-config", in: []byte("## template: jinja\n#cloud-config\nclearwater: {force_ipv6: true}\nhostname: {{ v1.local_hostname }}\n"),
			force: yes, types: []string{typeJinja}, notes: []string{"jinja template read without rendering"}},
		{name: "jinja with control blocks", in: []byte("## template: jinja\n#cloud-config\n{% if v1.region == 'x' %}\nclearwater: {force_ipv6: true}\n{% endif %}\n"),
			types: []string{typeJinja}, notes: []string{"cloud-config not read: not valid YAML"}},
		{name: "jinja script", in: []byte("## template: jinja\n#!/bin/sh\necho {{ v1.region }}\n"),
			types: []string{typeJinja}, notes: []string{"its body is not cloud-config"}},

		// Unreadable input.
		{name: "empty", in: nil, types: []string{typeNotMultipart}, notes: []string{"no readable cloud-config"}},
		{name: "garbage", in: []byte{0, 1, 2, 0xff, 0xfe, '#', 'c'}, types: []string{typeNotMultipart}, notes: []string{"no known header"}},
		{name: "empty cloud-config", in: []byte("#cloud-config\n"), types: []string{cc}, notes: []string{"empty cloud-config"}},
		{name: "bad YAML", in: []byte("#cloud-config\nclearwater: {force_ipv6: true\n"), types: []string{cc}, notes: []string{"not valid YAML"}},
		{name: "tabs YAML", in: []byte("#cloud-config\nclearwater:\n\tforce_ipv6: true\n"), types: []string{cc}, notes: []string{"not valid YAML"}},
		{name: "unsafe YAML tag", in: []byte("#cloud-config\nclearwater: {force_ipv6: true}\nx: !!python/object:os.system ls\n"),
			types: []string{cc}, notes: []string{"tag !!python/object:os.system is not one that cloud-init's YAML loader"}},
		{name: "local YAML tag", in: []byte("#cloud-config\nclearwater: !foo {force_ipv6: true}\n"),
			types: []string{cc}, notes: []string{"tag !foo is not"}},
		{name: "safe YAML tags", in: []byte("#cloud-config\nclearwater: !!map {force_ipv6: !!bool true}\nd: !!timestamp 2001-12-14\ns: !!set {x}\no: !!omap [{x: 1}]\nl: !<tag:yaml.org,2002:str> x\n"),
			force: yes, types: []string{cc}},
		{name: "archive with a local tag", in: []byte("#cloud-config-archive\n- !foo 'clearwater: {force_ipv6: true}'\n"),
			types: []string{typeCloudConfigArchive}, notes: []string{"archive is not valid YAML"}},
		{name: "YAML list", in: []byte("#cloud-config\n- clearwater\n"), types: []string{cc}, notes: []string{"not a YAML mapping"}},
		{name: "two YAML documents", in: []byte(forceTrue + "---\nfoo: 1\n"), types: []string{cc}, notes: []string{"more than one YAML document"}},
		{name: "truncated gzip", in: gz(t, []byte(forceTrue))[:20], types: []string{typeNotMultipart}, notes: []string{"does not decompress", "read as it is"}},
		{name: "gzip bomb", in: gz(t, make([]byte, maxDecompressed+1)), notes: []string{"more than 16 MiB decompressed"}, heavy: true},
		{name: "gzip just under the bound", in: gz(t, append([]byte(forceTrue+"#"), bytes.Repeat([]byte{' '}, maxDecompressed-len(forceTrue)-2)...)),
			force: yes, types: []string{cc}, heavy: true},
		{name: "gzip cloud-config", in: gz(t, []byte(forceTrue)), force: yes, types: []string{cc}},
		{name: "gzip MIME", in: gz(t, testdata(t, "make-mime.txt")), force: yes, types: []string{cc, sh}},
		{name: "64 KiB+ cloud-config", in: big(70 << 10), force: yes, types: []string{cc}},
		{name: "too many parts", in: manyParts(maxParts + 10), force: yes, types: repeat(sh, maxParts-1, cc), notes: []string{"more than 1000 parts"}},
	}
}

// nested is a multipart message nested depth levels deep with forceTrue at the bottom.
func nested(depth int) []byte {
	body := "Content-Type: text/cloud-config\n\n" + forceTrue
	for i := depth; i > 0; i-- {
		b := fmt.Sprintf("b%d", i)
		body = fmt.Sprintf("Content-Type: multipart/mixed; boundary=%s\n\n--%s\n%s\n--%s--\n", b, b, body, b)
	}
	return []byte("MIME-Version: 1.0\n" + body)
}

// big is a cloud-config of at least n bytes with the toggle at its end.
func big(n int) []byte {
	var b strings.Builder
	b.WriteString("#cloud-config\nruncmd:\n")
	for b.Len() < n {
		b.WriteString("  - echo 'a line of padding that makes this user-data large'\n")
	}
	b.WriteString("clearwater: {force_ipv6: true}\n")
	return []byte(b.String())
}

// manyParts is a multipart message of n-1 scripts then the toggle, which lies beyond maxParts
// when n > maxParts; the last part read is forceTrue moved to maxParts.
func manyParts(n int) []byte {
	var parts []string
	for i := 0; i < n; i++ {
		parts = append(parts, "\n#!/bin/sh")
	}
	parts[maxParts-1] = "\n" + forceTrue
	return multipart("b", parts...)
}

func repeat(s string, n int, last string) []string {
	out := make([]string, 0, n+1)
	for i := 0; i < n; i++ {
		out = append(out, s)
	}
	return append(out, last)
}

func TestParse(t *testing.T) {
	for _, c := range parseCases(t) {
		t.Run(c.name, func(t *testing.T) {
			r := Parse(c.in)
			check(t, c, r)
		})
	}
}

func check(t *testing.T, c parseCase, r Result) {
	t.Helper()
	if !reflect.DeepEqual(r.Force, c.force) {
		t.Errorf("Force = %v, want %v", show(r.Force), show(c.force))
	}
	if r.Marker != c.marker {
		t.Errorf("Marker = %v, want %v", r.Marker, c.marker)
	}
	got := map[string]string{}
	for _, d := range r.DropIns {
		got[d.Name] = string(d.Data)
		if !d.Soft {
			t.Errorf("drop-in %s is not Soft", d.Name)
		}
	}
	if len(got) != len(c.dropIns) || len(c.dropIns) > 0 && !reflect.DeepEqual(got, c.dropIns) {
		t.Errorf("DropIns = %q, want %q", got, c.dropIns)
	}
	var types []string
	for _, p := range r.Parts {
		types = append(types, p.Type)
	}
	if !reflect.DeepEqual(types, c.types) {
		t.Errorf("part types = %q, want %q", types, c.types)
	}
	if len(r.Notes) > maxNotes+1 {
		t.Errorf("%d notes, more than %d", len(r.Notes), maxNotes+1)
	}
	all := strings.Join(r.Notes, "\n")
	for _, n := range c.notes {
		if !strings.Contains(all, n) {
			t.Errorf("no note contains %q; notes:\n%s", n, all)
		}
	}
	if c.force == nil && !c.marker && len(c.dropIns) == 0 && len(r.Notes) == 0 {
		t.Errorf("no toggle and no note saying why")
	}
}

func show(b *bool) string {
	if b == nil {
		return "nil"
	}
	return fmt.Sprint(*b)
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]string{
		"#cloud-config-archive\n":     typeCloudConfigArchive,
		"#CLOUD-CONFIG\n":             TypeCloudConfig,
		"#cloud-configs":              TypeCloudConfig,
		"#include-once x":             typeIncludeOnce,
		"#include x":                  typeInclude,
		"  \r\n#!/bin/sh":             typeShellScript,
		"## Template: JINJA\n":        typeJinja,
		"## template:jinja\n":         "",
		"\ufeff#cloud-config":         TypeCloudConfig,
		"\u00a0\u2003#!":              typeShellScript,
		"text/x-shellscript-per-boot": "text/x-shellscript-per-boot",
		"# cloud-config":              "",
		"":                            "",
		"\xff#!":                      "",
	} {
		if got := sniff([]byte(in)); got != want {
			t.Errorf("Sniff(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCloudConfigMerge(t *testing.T) {
	a, err := decodeCloudConfig([]byte("a: 1\nb: [1, 2]\nc: {x: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := decodeCloudConfig([]byte("#cloud-config\nb: [3]\nc: {y: 2}\nd: 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	a.mergeWith(b, defaultMerger) // cloud-init's default: each top-level key of b replaces a's whole
	if want := []string{"a", "b", "c", "d"}; !reflect.DeepEqual(a.Keys, want) {
		t.Errorf("keys = %q, want %q", a.Keys, want)
	}
	if n := a.Values["b"]; len(n.Content) != 1 || n.Content[0].Value != "3" {
		t.Errorf("list b was not replaced: %d items", len(n.Content))
	}
	if n := a.Values["c"]; len(n.Content) != 2 || n.Content[0].Value != "y" {
		t.Errorf("mapping c was not replaced whole")
	}
}

func TestSplitPayloads(t *testing.T) {
	parts, notes := Split(testdata(t, "make-mime.txt"))
	if len(parts) != 2 || len(notes) != 0 {
		t.Fatalf("got %d parts, notes %q", len(parts), notes)
	}
	if string(parts[0].Payload) != string(testdata(t, "force.yaml")) || parts[0].Name != "force.yaml" {
		t.Errorf("part 1 = %q (%s), want force.yaml's content", parts[0].Payload, parts[0].Name)
	}
	if string(parts[1].Payload) != string(testdata(t, "script.sh")) || parts[1].Name != "script.sh" {
		t.Errorf("part 2 = %q (%s), want script.sh's content", parts[1].Payload, parts[1].Name)
	}
}
