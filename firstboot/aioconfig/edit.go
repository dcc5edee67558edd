package aioconfig

import (
	"bytes"
	"net/netip"
	"strings"
)

// keyValue is one shell assignment that we own: Key=Value on a line of its own.
type keyValue struct {
	Key, Value string
}

// line is one line of a file: its text and the line ending that followed it ("\n", "\r\n" or
// "" for a last line without one). A lone "\r" is text, as it is to bash.
type line struct {
	text, eol []byte
}

func splitLines(b []byte) []line {
	var lines []line
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			lines = append(lines, line{text: b})
			break
		}
		text, eol := b[:i], b[i:i+1]
		if i > 0 && b[i-1] == '\r' {
			text, eol = b[:i-1], b[i-1:i+1]
		}
		lines = append(lines, line{text: text, eol: eol})
		b = b[i+1:]
	}
	return lines
}

// lineEnding is the ending a file uses: that of its first ended line, "\n" when it has none.
func lineEnding(lines []line) []byte {
	for _, l := range lines {
		if len(l.eol) > 0 {
			return l.eol
		}
	}
	return []byte("\n")
}

// editor rebuilds a file line by line and keeps its trailing-newline state: a file that did not
// end with a line ending still does not, whatever lines were added or dropped at its end, unless
// its last line is dropped and a blank line becomes last. A blank line cannot be last without its
// ending (it would vanish), so it keeps it: the operator's line outweighs the missing newline. A
// last line that ends in a lone CR keeps it as text: when lines follow, it is ended with CRLF.
type editor struct {
	in        []line
	eol       []byte
	noEnd     bool
	out       []byte
	lastEOL   int  // length of the line ending last written to out
	lastBlank bool // the line last written to out has no text
}

func newEditor(content []byte) *editor {
	lines := splitLines(content)
	e := &editor{in: lines, eol: lineEnding(lines), out: make([]byte, 0, len(content)+256)}
	if n := len(lines); n > 0 && len(lines[n-1].eol) == 0 {
		e.noEnd = true
		last := &lines[n-1]
		last.eol = e.eol // ended for now; finish takes it off again
		if bytes.HasSuffix(last.text, []byte("\r")) {
			// A "\n" would make its CR a CRLF ending and change the line's text.
			last.eol = []byte("\r\n")
			if n == 1 {
				e.eol = last.eol
			}
		}
	}
	return e
}

func (e *editor) keep(l line) {
	e.out = append(append(e.out, l.text...), l.eol...)
	e.lastEOL, e.lastBlank = len(l.eol), len(l.text) == 0
}

func (e *editor) add(text string) { e.keep(line{text: []byte(text), eol: e.eol}) }

func (e *editor) finish() []byte {
	if e.noEnd && !e.lastBlank {
		// Every line in out is ended; the last ending goes.
		e.out = e.out[:len(e.out)-e.lastEOL]
	}
	return e.out
}

// upsertKeys sets each key of kvs in a shell-style key=value file. The first line that assigns
// the key at column 0 ("key=...", as upstream's sed matches it) is replaced in place and keeps
// its line ending; later such lines are dropped, because when bash sources the file the last
// assignment wins and a stale duplicate would override ours (upstream's sed rewrites them all
// to the same value: the effective config is the same). A missing key is appended, in kvs
// order, with the file's line ending. Every other line is kept byte for byte: comments,
// "#key=", "key_extra=", indented or exported assignments (an operator's own logic).
func upsertKeys(content []byte, kvs []keyValue) []byte {
	e := newEditor(content)
	seen := make([]bool, len(kvs))
	for _, l := range e.in {
		i := keyIndex(l.text, kvs)
		switch {
		case i < 0:
			e.keep(l)
		case !seen[i]:
			seen[i] = true
			e.keep(line{text: []byte(kvs[i].Key + "=" + kvs[i].Value), eol: l.eol})
		}
	}
	for i, kv := range kvs {
		if !seen[i] {
			e.add(kv.Key + "=" + kv.Value)
		}
	}
	return e.finish()
}

// keyIndex returns the index of the key that text assigns at column 0, or -1.
func keyIndex(text []byte, kvs []keyValue) int {
	for i, kv := range kvs {
		k := kv.Key
		if len(text) > len(k) && text[len(k)] == '=' && string(text[:len(k)]) == k {
			return i
		}
	}
	return -1
}

// localIP returns the address that local_config's local_ip holds, as bash reads it (the last
// assignment at column 0 wins, quotes removed), or the zero Addr when it holds none.
func localIP(content []byte) netip.Addr {
	kvs := []keyValue{{Key: "local_ip"}}
	var a netip.Addr
	for _, l := range splitLines(content) {
		if keyIndex(l.text, kvs) == 0 {
			v := strings.TrimSpace(string(l.text[len("local_ip="):]))
			a, _ = netip.ParseAddr(strings.Trim(v, `"'`))
		}
	}
	return a
}

// replaceBlock puts body between the marker lines start and end, where the first block is, or
// at the end of the file when there is none; later blocks are dropped (upstream's sed deletes
// them all). Marker lines match with trailing blanks ignored. A start marker without an end
// marker is a broken block: it is taken to be the marker and, when the next line is an entry
// that upstream writes (see isAIOEntry, with upstream's prefixes or the ones given), that line
// too. Upstream's sed would delete from the marker to the end of the file; no other line of the
// operator's is touched here. Broken blocks count as blocks: with two start markers and no end
// marker, the block goes at the first, the second goes, and the lines between them stay (a blank
// one left last keeps its ending: see editor).
func replaceBlock(content []byte, start, end string, body []string, prefixes ...[3]string) []byte {
	e := newEditor(content)
	done := false
	for i := 0; i < len(e.in); i++ {
		if !isMarker(e.in[i].text, start) {
			e.keep(e.in[i])
			continue
		}
		i = blockEnd(e.in, i, end, prefixes)
		if !done {
			done = true
			e.addBlock(start, end, body)
		}
	}
	if !done {
		e.addBlock(start, end, body)
	}
	return e.finish()
}

func (e *editor) addBlock(start, end string, body []string) {
	e.add(start)
	for _, b := range body {
		e.add(b)
	}
	e.add(end)
}

// blockEnd returns the index of the last line of the block that starts at line i.
func blockEnd(lines []line, i int, end string, prefixes [][3]string) int {
	for j := i + 1; j < len(lines); j++ {
		if isMarker(lines[j].text, end) {
			return j
		}
	}
	if i+1 < len(lines) && isAIOEntry(string(lines[i+1].text), prefixes...) {
		return i + 1
	}
	return i
}

// isAIOEntry reports whether s is a hosts line that upstream writes into its block: an address,
// then names ending in <p1>.<host> <p2>.<host> <p3>.<host>, where <host> may be empty (upstream's
// first run writes "<ip>  scscf. bgcf. icscf.") and the prefixes are upstream's defaults
// (scscf, bgcf, icscf) or one of the sets given (its overrides, see Sproutlet).
func isAIOEntry(s string, prefixes ...[3]string) bool {
	f := strings.Fields(s)
	if len(f) != 4 && len(f) != 5 {
		return false
	}
	if _, err := netip.ParseAddr(f[0]); err != nil {
		return false
	}
	names := f[len(f)-3:]
	for _, p := range append(prefixes, [3]string{"scscf", "bgcf", "icscf"}) {
		if strings.HasPrefix(names[0], p[0]+".") && strings.HasPrefix(names[1], p[1]+".") &&
			strings.HasPrefix(names[2], p[2]+".") {
			return true
		}
	}
	return false
}

func isMarker(text []byte, marker string) bool {
	return string(bytes.TrimRight(text, " \t\r")) == marker
}
