package aioconfig

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/fuzztest"
)

var fuzzSeeds = []string{
	"", "\n", "\r\n", "a=1", "a=1\r", "local_ip=x", "local_ip=a\nlocal_ip=b\n",
	localTemplate, sharedTemplate, strings.ReplaceAll(sharedTemplate, "\n", "\r\n"),
	"local_ip_extra=1\n#local_ip=2\n local_ip=3\nexport public_ip=4\n",
	"#+clearwater-aio\n10.0.0.9  scscf. bgcf. icscf.\n", hostsTemplate + block,
}

// fuzzKeys are the real keys with values made from v1 and v2, which the fuzzer chooses. Our
// values never hold a line break (they are addresses and host names), so the fuzzer's lose theirs.
func fuzzKeys(v1, v2 string) []keyValue {
	clean := strings.NewReplacer("\n", "", "\r", "")
	v1, v2 = clean.Replace(v1), clean.Replace(v2)
	kvs := append(localKeys(v4()), sharedKeys(v4(), defaultSproutlets())...)
	for i := range kvs {
		kvs[i].Value = v1
		if i%2 == 1 {
			kvs[i].Value = v2
		}
	}
	return kvs
}

func FuzzUpsert(f *testing.F) {
	fuzztest.LimitMinimizing(f)
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), "10.0.0.5", `"sip:scscf.cw-aio:5054;transport=TCP"`)
	}
	f.Fuzz(func(t *testing.T, in []byte, v1, v2 string) {
		kvs := fuzzKeys(v1, v2)
		out := upsertKeys(in, kvs)
		checkKeptLines(t, in, out, kvs)
		checkKeysOnce(t, out, kvs)
		checkTrailingNewline(t, in, out)
		if again := upsertKeys(out, kvs); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
	})
}

// checkKeptLines: every line that assigns none of our keys is in out, in order, with its text
// and its ending (a line last in the input or the output may gain or lose its ending), and out
// holds nothing else but one line per key.
func checkKeptLines(t *testing.T, in, out []byte, kvs []keyValue) {
	t.Helper()
	inLines, outLines := splitLines(in), splitLines(out)
	type kept struct {
		l    line
		last bool
	}
	others := func(lines []line) []kept {
		var k []kept
		for i, l := range lines {
			if keyIndex(l.text, kvs) < 0 {
				k = append(k, kept{l, i == len(lines)-1})
			}
		}
		return k
	}
	a, b := others(inLines), others(outLines)
	if len(a) != len(b) || len(outLines) != len(b)+len(kvs) {
		t.Fatalf("%d other lines in, %d out, %d lines in all for %d keys:\n%q\n%q", len(a), len(b), len(outLines), len(kvs), in, out)
	}
	for i := range a {
		if !bytes.Equal(a[i].l.text, b[i].l.text) ||
			!a[i].last && !b[i].last && !bytes.Equal(a[i].l.eol, b[i].l.eol) {
			t.Fatalf("line %d changed: %q -> %q", i, a[i].l, b[i].l)
		}
	}
}

// checkKeysOnce: each key is assigned exactly once, to its value.
func checkKeysOnce(t *testing.T, out []byte, kvs []keyValue) {
	t.Helper()
	count := make([]int, len(kvs))
	for _, l := range splitLines(out) {
		if i := keyIndex(l.text, kvs); i >= 0 {
			count[i]++
			if want := kvs[i].Key + "=" + kvs[i].Value; string(l.text) != want {
				t.Fatalf("line %q, want %q", l.text, want)
			}
		}
	}
	for i, n := range count {
		if n != 1 {
			t.Fatalf("key %s assigned %d times in %q", kvs[i].Key, n, out)
		}
	}
}

// checkTrailingNewline: out ends with a line ending when in does, and when in does not, only
// if out's last line is blank (which cannot be last without its ending).
func checkTrailingNewline(t *testing.T, in, out []byte) {
	t.Helper()
	want := len(in) == 0 || bytes.HasSuffix(in, []byte("\n"))
	got := bytes.HasSuffix(out, []byte("\n"))
	if outLines := splitLines(out); !want && got && len(outLines[len(outLines)-1].text) == 0 {
		want = true
	}
	if got != want {
		t.Fatalf("ends with a newline: %v, want %v: %q -> %q", got, want, in, out)
	}
}

func FuzzReplaceBlock(f *testing.F) {
	fuzztest.LimitMinimizing(f)
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	body := []string{entry}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := replaceBlock(in, HostsStart, HostsEnd, body)
		checkTrailingNewline(t, in, out)
		if again := replaceBlock(out, HostsStart, HostsEnd, body); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
		lines := splitLines(out)
		at := -1
		for i, l := range lines {
			if isMarker(l.text, HostsStart) {
				if at >= 0 {
					t.Fatalf("two blocks in %q", out)
				}
				at = i
			}
		}
		if at < 0 || at+2 >= len(lines) || string(lines[at+1].text) != entry || string(lines[at+2].text) != HostsEnd {
			t.Fatalf("no whole block in %q", out)
		}
		// Outside the block, out is made of input lines, in order.
		rest := append(append([]line(nil), lines[:at]...), lines[at+3:]...)
		inLines, j := splitLines(in), 0
		for _, l := range rest {
			for j < len(inLines) && !bytes.Equal(inLines[j].text, l.text) {
				j++
			}
			if j == len(inLines) {
				t.Fatalf("line %q is not from the input %q", l.text, in)
			}
			j++
		}
		// and nothing of the operator's is lost: every line outside the input's blocks that is
		// neither a marker nor an entry of ours is still there.
		if want, got := operatorLines(inLines), operatorLines(rest); !slices.Equal(want, got) {
			t.Fatalf("operator's lines %q, out has %q: %q -> %q", want, got, in, out)
		}
	})
}

// operatorLines returns the texts of lines that are outside every start..end span and are
// neither marker lines nor entries that upstream writes.
func operatorLines(lines []line) []string {
	var texts []string
	for i := 0; i < len(lines); i++ {
		text := lines[i].text
		if isMarker(text, HostsStart) {
			for j := i + 1; j < len(lines); j++ {
				if isMarker(lines[j].text, HostsEnd) {
					i = j
					break
				}
			}
			continue
		}
		if !isMarker(text, HostsEnd) && !isAIOEntry(string(text)) {
			texts = append(texts, string(text))
		}
	}
	return texts
}
