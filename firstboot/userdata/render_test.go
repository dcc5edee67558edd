package userdata

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/fuzztest"
)

// renderBases are operator user-data of every format Render accepts.
var renderBases = []struct {
	name string
	data []byte
}{
	{"empty", nil},
	{"blank", []byte("\n  \n")},
	{"cloud-config with comments and write_files", []byte(ccWithComments)},
	{"cloud-config header only", []byte("#cloud-config\n# nothing yet\n")},
	{"cloud-config no final newline", []byte("#cloud-config\nhostname: h")},
	{"cloud-config CRLF", []byte("#cloud-config\r\npackages:\r\n  - vim\r\nwrite_files: []\r\n")},
	{"cloud-config empty write_files", []byte("#cloud-config\nwrite_files:\nruncmd: [ls]\n")},
	{"cloud-config with own clearwater mapping", []byte("#cloud-config\nclearwater:\n  note: kept\n")},
	{"script", []byte("#!/bin/sh\necho hello\n")},
	{"script non-ASCII", []byte("#!/bin/sh\necho héllo €\n")},
	{"script CRLF no final newline", []byte("#!/bin/sh\r\necho hi")},
	{"boothook", []byte("#cloud-boothook\n#!/bin/sh\necho boot > /run/boot\n")},
	{"MIME make-mime", readTestdata("make-mime.txt")},
	{"MIME write-mime-multipart gzip", readTestdata("wmm-gzip.bin")},
	{"MIME cloud-config and script", []byte(mimeBase)},
	{"MIME CRLF", []byte(strings.ReplaceAll(string(readTestdata("make-mime.txt")), "\n", "\r\n"))},
	{"archive", []byte("#cloud-config-archive\n- type: text/cloud-config\n  content: |\n    runcmd: [ls]\n- \"#!/bin/sh\\necho a\\n\"\n")},
	{"gzip cloud-config", gzipped(ccWithComments)},
	{"gzip script", gzipped("#!/bin/bash\nuptime\n")},
	{"jinja", []byte("## template: jinja\n#cloud-config\nhostname: '{{ v1.local_hostname }}-lab'\n")},
	{"include", []byte("#include\nhttps://example.com/user-data\n")},
	{"part handler", []byte("#part-handler\ndef list_types(): return []\ndef handle_part(*a): pass\n")},
}

// mimeBase is what make-mime writes for a cloud-config and a script.
const mimeBase = `Content-Type: multipart/mixed; boundary="===============1234=="
MIME-Version: 1.0

--===============1234==
Content-Type: text/cloud-config; charset="utf-8"
MIME-Version: 1.0
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="base.yaml"

I2Nsb3VkLWNvbmZpZwpwYWNrYWdlczogW3ZpbV0Kd3JpdGVfZmlsZXM6Ci0gcGF0aDogL2V0Yy9t
b3RkCiAgY29udGVudDogaGkK

--===============1234==
Content-Type: text/x-shellscript; charset="utf-8"
MIME-Version: 1.0
Content-Transfer-Encoding: 7bit
Content-Disposition: attachment; filename="s.sh"

#!/bin/sh
echo mime

--===============1234==--
`

const ccWithComments = `#cloud-config
# The operator's own user-data.
hostname: lab # the lab host
packages: [vim, curl]
write_files:
  # their motd
  - path: /etc/motd
    content: |
      hello
    permissions: '0644'
ssh_authorized_keys:
  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ user@host
`

func readTestdata(name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return b
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func ref[T any](v T) *T { return &v }

func dur(d time.Duration) *config.Duration { x := config.Duration(d); return &x }

// renderAdditions are inputs that exercise every branch of what Render writes.
var renderAdditions = []struct {
	name string
	add  Addition
}{
	{"nothing", Addition{}},
	{"true", Addition{ForceIPv6: ref(true)}},
	{"false", Addition{ForceIPv6: ref(false)}},
	{"true upstream marker", Addition{ForceIPv6: ref(true), UpstreamMarker: true}},
	{"settings", Addition{Settings: config.Partial{IPv6Timeout: dur(time.Minute), Hostname: ref("cw-lab")}}},
	{"true settings", Addition{ForceIPv6: ref(true), Settings: config.Partial{OnMissingIPv6: ref(config.Fail), IgnoreInterfaces: &[]string{"docker*", "ens9"}}}},
	{"false settings", Addition{ForceIPv6: ref(false), Settings: config.Partial{PublicIP: ref("2001:db8::10"), ProbeDHCP: ref(false)}}},
}

// TestRenderEveryBase renders every addition into every base, and checks that the helper's parser
// reads back what Render reports and that the operator's content is all there.
func TestRenderEveryBase(t *testing.T) {
	for _, b := range renderBases {
		for _, a := range renderAdditions {
			t.Run(b.name+"/"+a.name, func(t *testing.T) {
				r, err := Render(b.data, a.add, false)
				if expectedError(b.data, a.add) {
					if err == nil || !strings.Contains(err.Error(), "contradicts") {
						t.Fatalf("the base contradicts the inputs; Render says %v", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				checkRoundTrip(t, r, a.add)
				checkWritesNothingNew(t, b.data, r.Data, a.add)
				checkBaseKept(t, b.data, r.Data)
				checkContentType(t, r)
			})
		}
	}
}

// wantToggle is the helper's precedence on Parse's result (written out again here, so that the
// test does not trust Render's own code for it).
func wantToggle(p Result) (bool, Source) {
	if p.Force != nil {
		return *p.Force, SourceKey
	}
	if p.Marker {
		return true, SourceWriteFiles
	}
	sources := config.SortDropIns(p.DropIns)
	if p.Settings != nil {
		sources = append(sources, *p.Settings)
	}
	cfg, _, _ := config.Merge(sources)
	if _, ok := cfg.Origin["force_ipv6"]; ok {
		return cfg.ForceIPv6, SourceConfig
	}
	return false, SourceNone
}

// checkRoundTrip parses r.Data as the helper does and compares with what Render reported and
// with what was asked.
func checkRoundTrip(t *testing.T, r Rendered, add Addition) {
	t.Helper()
	p := Parse(r.Data)
	force, source := wantToggle(p)
	if force != r.ForceIPv6 || source != r.ForceSource {
		t.Errorf("Render reports force %t from %s; Parse reads %t from %s\nnotes: %q\n%s", r.ForceIPv6, r.ForceSource, force, source, p.Notes, r.Data)
	}
	if add.ForceIPv6 != nil && r.ForceIPv6 != *add.ForceIPv6 {
		t.Errorf("asked force_ipv6 = %t, the helper reads %t (%s)", *add.ForceIPv6, r.ForceIPv6, r.ForceSource)
	}
	if add.UpstreamMarker && !p.Marker {
		t.Errorf("upstream_marker: the user-data writes no %s", MarkerPath)
	}
	got := config.Partial{ForceIPv6: p.Force}
	if p.Settings != nil {
		var err error
		if got, err = config.Parse(p.Settings.Name, p.Settings.Data); err != nil {
			t.Fatalf("the clearwater key's settings do not parse back: %v", err)
		}
		got.ForceIPv6 = p.Force
	}
	if !reflect.DeepEqual(got, r.Settings) {
		t.Errorf("the clearwater key reads back as %s, Render reports %s", showPartial(got), showPartial(r.Settings))
	}
	want := add.Settings
	want.ForceIPv6 = add.ForceIPv6
	for _, k := range want.Set() {
		if !reflect.DeepEqual(want.Value(k), r.Settings.Value(k)) {
			t.Errorf("asked %s = %v, the helper reads %v", k, want.Value(k), r.Settings.Value(k))
		}
	}
}

// checkWritesNothingNew checks the heart of the per-instance toggle: what Render adds makes
// cloud-init write no file into the instance (it all rides under the clearwater key, read at
// every boot), but upstream's marker where asked. A build instance's user-data then leaves
// nothing in its image.
func checkWritesNothingNew(t *testing.T, base, out []byte, add Addition) {
	t.Helper()
	if isGzip(base) {
		base, _ = (&budget{maxDecompressed}).gunzip(base)
	}
	was, now := Parse(base).Writes(), Parse(out).Writes()
	for _, p := range now {
		if !slices.Contains(was, p) && !(add.UpstreamMarker && p == MarkerPath) {
			t.Errorf("the rendered user-data makes cloud-init write %s into the instance:\n%s", p, out)
		}
	}
}

func showPartial(p config.Partial) string {
	b, _ := config.Render("", p)
	return strings.TrimSpace(string(b))
}

// checkBaseKept checks that the operator's user-data survives: a cloud-config base keeps every key
// and value (write_files as a prefix of the result's), any other base keeps every part, byte for
// byte, in order, ahead of ours.
func checkBaseKept(t *testing.T, base, out []byte) {
	t.Helper()
	plainBase := base
	if isGzip(base) {
		plainBase, _ = (&budget{maxDecompressed}).gunzip(base)
	}
	if len(bytes.TrimSpace(plainBase)) == 0 {
		return
	}
	if isGzip(out) {
		out, _ = (&budget{maxDecompressed}).gunzip(out)
	}
	if sniff(plainBase) == TypeCloudConfig && !isMIME(plainBase) {
		checkKeysKept(t, plainBase, out)
		return
	}
	was, _ := Split(base)
	now, _ := Split(out)
	if len(now) < len(was) {
		t.Fatalf("%d parts before, %d after", len(was), len(now))
	}
	for i := range was {
		if was[i].Type != now[i].Type || !bytes.Equal(was[i].Payload, now[i].Payload) {
			t.Errorf("part %d changed: %s %q became %s %q", i+1, was[i].Type, was[i].Payload, now[i].Type, now[i].Payload)
		}
	}
}

func checkKeysKept(t *testing.T, base, out []byte) {
	t.Helper()
	was, err := decodeCloudConfig(base)
	if err != nil {
		if strings.Contains(err.Error(), "empty") {
			if !bytes.HasPrefix(out, base) {
				t.Errorf("a comment-only base must be kept byte for byte:\n%s", out)
			}
			return
		}
		t.Fatal(err)
	}
	now, err := decodeCloudConfig(out)
	if err != nil {
		t.Fatalf("the result is not cloud-config: %v\n%s", err, out)
	}
	for _, k := range was.Keys {
		a, b := was.Values[k], now.Values[k]
		switch k {
		case "write_files":
			if a.Kind == yaml.SequenceNode && (b == nil || len(b.Content) < len(a.Content) || yamlText(t, &yaml.Node{Kind: yaml.SequenceNode, Content: b.Content[:len(a.Content)]}) != yamlText(t, a)) {
				t.Errorf("write_files: the operator's entries are not kept first:\n%s", out)
			}
		case configKey:
			if b == nil || b.Kind != yaml.MappingNode || len(b.Content) < len(a.Content) {
				t.Errorf("%s: the operator's fields are not kept", k)
			}
		default:
			if b == nil || yamlText(t, a) != yamlText(t, b) {
				t.Errorf("key %s changed:\n%s\nbecame\n%s", k, yamlText(t, a), yamlText(t, b))
			}
		}
	}
	for _, c := range []string{"# The operator's own user-data.", "# the lab host", "# their motd"} {
		if bytes.Contains(base, []byte(c)) && !bytes.Contains(out, []byte(c)) {
			t.Errorf("comment %q lost:\n%s", c, out)
		}
	}
}

func yamlText(t *testing.T, n *yaml.Node) string {
	t.Helper()
	n2 := *n
	n2.HeadComment, n2.LineComment, n2.FootComment = "", "", ""
	b, err := yaml.Marshal(&n2)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkContentType(t *testing.T, r Rendered) {
	t.Helper()
	want := TypeCloudConfig
	if isMIME(r.Data) {
		want = ContentTypeMultipart
	} else if sniff(r.Data) != TypeCloudConfig {
		want = sniff(r.Data)
	}
	if r.ContentType != want {
		t.Errorf("content type %q, the data is %q", r.ContentType, want)
	}
}

func TestRenderEmptyBaseIsPlainCloudConfig(t *testing.T) {
	r, err := Render(nil, Addition{ForceIPv6: ref(true)}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := ourHeader + "clearwater:\n  force_ipv6: true\n"
	if string(r.Data) != want || r.ContentType != TypeCloudConfig || !r.ForceIPv6 || r.ForceSource != SourceKey {
		t.Errorf("got %q (%s, %t, %s), want %q", r.Data, r.ContentType, r.ForceIPv6, r.ForceSource, want)
	}
}

func TestRenderMIMEPartCarriesMergeType(t *testing.T) {
	r, err := Render([]byte("#!/bin/sh\necho hi\n"), Addition{ForceIPv6: ref(true)}, false)
	if err != nil {
		t.Fatal(err)
	}
	parts, _ := Split(r.Data)
	if len(parts) != 2 || parts[0].Type != typeShellScript || parts[1].Type != TypeCloudConfig || parts[1].MergeType != ourMergeType {
		t.Fatalf("parts %+v", parts)
	}
	again, err := Render([]byte("#!/bin/sh\necho hi\n"), Addition{ForceIPv6: ref(true)}, false)
	if err != nil || !bytes.Equal(again.Data, r.Data) {
		t.Errorf("the same inputs give other bytes (err %v)", err)
	}
}

func TestRenderNothingToAddKeepsBase(t *testing.T) {
	base := readTestdata("make-mime.txt")
	r, err := Render(base, Addition{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Data, base) || r.ContentType != ContentTypeMultipart || !r.ForceIPv6 || r.ForceSource != SourceKey {
		t.Errorf("got %s %t %s:\n%s", r.ContentType, r.ForceIPv6, r.ForceSource, r.Data)
	}
}

func TestRenderAgreeingBaseKeptAsIs(t *testing.T) {
	base := "#cloud-config\nclearwater: {force_ipv6: true}\nwrite_files:\n  - path: /etc/clearwater/force_ipv6\n    content: ''\n"
	r, err := Render([]byte(base), Addition{ForceIPv6: ref(true)}, false)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(r.Data, []byte(MarkerPath)) != 1 || !r.ForceIPv6 || r.ForceSource != SourceKey {
		t.Errorf("an agreeing toggle must be kept once, as it is (%t %s):\n%s", r.ForceIPv6, r.ForceSource, r.Data)
	}
	base = "#cloud-config\nclearwater: {force_ipv6: false, hostname: lab}\n"
	r, err = Render([]byte(base), Addition{ForceIPv6: ref(false), Settings: config.Partial{Hostname: ref("lab")}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Data) != base {
		t.Errorf("an agreeing key must be kept as it is:\n%s", r.Data)
	}
	checkRoundTrip(t, r, Addition{ForceIPv6: ref(false), Settings: config.Partial{Hostname: ref("lab")}})
}

func TestRenderErrors(t *testing.T) {
	big := "#cloud-config\n# " + strings.Repeat("x", 49200) + "\n"
	cases := []struct {
		name string
		base string
		add  Addition
		want []string
	}{
		{"key true vs false", "#cloud-config\nclearwater: {force_ipv6: true}\n", Addition{ForceIPv6: ref(false)}, []string{"clearwater.force_ipv6: true", "contradicts force_ipv6 = false"}},
		{"key false vs true", "#cloud-config\nclearwater:\n  force_ipv6: no\n", Addition{ForceIPv6: ref(true)}, []string{"clearwater.force_ipv6: false", "contradicts force_ipv6 = true"}},
		{"marker vs false", "#cloud-config\nwrite_files:\n- path: /etc/clearwater/../clearwater/force_ipv6\n", Addition{ForceIPv6: ref(false)}, []string{"write_files entry for /etc/clearwater/force_ipv6", "contradicts force_ipv6 = false"}},
		{"key setting vs ours", "#cloud-config\nclearwater: {hostname: theirs}\n", Addition{Settings: config.Partial{Hostname: ref("mine")}}, []string{"clearwater.hostname", "another value"}},
		{"MIME key vs false", string(readTestdata("make-mime.txt")), Addition{ForceIPv6: ref(false)}, []string{"contradicts force_ipv6 = false"}},
		{"archive write_files null", "#cloud-config-archive\n- type: text/cloud-config\n  content: \"write_files:\\n\"\n", Addition{ForceIPv6: ref(true), UpstreamMarker: true}, []string{"upstream_marker: the helper would not read it back", "must be a list"}},
		{"jinja write_files null", "## template: jinja\n#cloud-config\nwrite_files:\n", Addition{ForceIPv6: ref(true), UpstreamMarker: true}, []string{"upstream_marker: the helper would not read it back"}},
		{"bad setting", "", Addition{Settings: config.Partial{OnMissingIPv6: ref("maybe")}}, []string{"on_missing_ipv6", `"maybe"`, "fallback", "fail"}},
		{"settings carry the toggle", "", Addition{Settings: config.Partial{ForceIPv6: ref(true)}}, []string{"toggle is ForceIPv6"}},
		{"upstream marker with false", "", Addition{ForceIPv6: ref(false), UpstreamMarker: true}, []string{"upstream_marker needs force_ipv6 = true"}},
		{"upstream marker unset", "", Addition{UpstreamMarker: true}, []string{"upstream_marker"}},
		{"BOM", "\ufeff#cloud-config\nhostname: a\n", Addition{ForceIPv6: ref(true)}, []string{"byte-order mark"}},
		{"no header", "hostname: a\n", Addition{ForceIPv6: ref(true)}, []string{`"hostname: a"`, "cloud-init would ignore it"}},
		{"bad YAML", "#cloud-config\nhostname: [a\n", Addition{ForceIPv6: ref(true)}, []string{"#cloud-config but", "YAML"}},
		{"two documents", "#cloud-config\na: 1\n---\nb: 2\n", Addition{ForceIPv6: ref(true)}, []string{"more than one YAML document"}},
		{"not a mapping", "#cloud-config\n- a\n", Addition{ForceIPv6: ref(true)}, []string{"not a YAML mapping"}},
		{"write_files a string", "#cloud-config\nwrite_files: nope\n", Addition{ForceIPv6: ref(true), UpstreamMarker: true}, []string{"write_files is the string", "not a list"}},
		{"write_files an alias", "#cloud-config\nx: &f\n- path: /a\nwrite_files: *f\n", Addition{ForceIPv6: ref(true), UpstreamMarker: true}, []string{"write_files is a YAML alias"}},
		{"write_files from a merge key", "#cloud-config\nbase: &b\n  write_files: [{path: /a}]\n<<: *b\n", Addition{ForceIPv6: ref(true), UpstreamMarker: true}, []string{"merge key"}},
		{"clearwater not a mapping", "#cloud-config\nclearwater: yes\n", Addition{ForceIPv6: ref(false)}, []string{"clearwater is", "not a mapping"}},
		{"MIME clearwater a YAML 1.1 bool", "MIME-Version: 1.0\nContent-Type: text/cloud-config\n\n#cloud-config\nclearwater: on\n", Addition{ForceIPv6: ref(false)}, []string{"force_ipv6 = false", "clearwater key a mapping"}},
		{"gzip broken", "\x1f\x8bnot gzip", Addition{ForceIPv6: ref(true)}, []string{"does not decompress"}},
		{"MIME not UTF-8", "MIME-Version: 1.0\nContent-Type: text/plain\n\n\xff\xfe\n", Addition{ForceIPv6: ref(true)}, []string{"not readable user-data", "UTF-8"}},
		{"size", big, Addition{ForceIPv6: ref(true)}, []string{"over OpenStack's limit of 65535 bytes", "base64-encoded"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Render([]byte(c.base), c.add, false)
			if err == nil {
				t.Fatalf("no error; rendered:\n%s", r.Data)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestRenderSizeLimit(t *testing.T) {
	over := "#cloud-config\n# " + strings.Repeat("y", 49200) + "\n"
	_, err := Render([]byte(over), Addition{ForceIPv6: ref(true)}, false)
	if err == nil {
		t.Fatal("no error over the limit")
	}
	r, _ := Render(nil, Addition{ForceIPv6: ref(true)}, false)
	n := len(over) + len(r.Data) - len("#cloud-config\n") // the size Render would have made
	if !strings.Contains(err.Error(), "user-data is ") || !strings.Contains(err.Error(), base64Len(n)) {
		t.Errorf("error %q does not give the encoded size %s", err, base64Len(n))
	}
	// gzip brings the same content under the limit, and it still reads back.
	r, err = Render([]byte(over), Addition{ForceIPv6: ref(true)}, true)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if r.ContentType != ContentTypeGzip || !isGzip(r.Data) || len(r.Data) > 1000 {
		t.Errorf("gzip result: %s, %d bytes", r.ContentType, len(r.Data))
	}
	checkRoundTrip(t, r, Addition{ForceIPv6: ref(true)})
	// Exactly at the limit is accepted: 49149 bytes are 65532 base64-encoded, 49152 are 65536.
	if got := base64.StdEncoding.EncodedLen(49152); got <= maxEncoded {
		t.Fatalf("arithmetic: %d", got)
	}
}

func base64Len(n int) string { return strconv.Itoa(base64.StdEncoding.EncodedLen(n)) }

func TestRenderGzip(t *testing.T) {
	for _, b := range renderBases {
		t.Run(b.name, func(t *testing.T) {
			add := Addition{ForceIPv6: ref(true), Settings: config.Partial{Hostname: ref("gz")}}
			plain, err := Render(b.data, add, false)
			if err != nil {
				t.Fatal(err)
			}
			gz, err := Render(b.data, add, true)
			if err != nil {
				t.Fatal(err)
			}
			un, err := (&budget{maxDecompressed}).gunzip(gz.Data)
			if err != nil || !bytes.Equal(un, plain.Data) || gz.ContentType != ContentTypeGzip {
				t.Fatalf("gzip output is not the plain output compressed (err %v, type %s)", err, gz.ContentType)
			}
			checkRoundTrip(t, gz, add)
		})
	}
}

// TestRenderGenerated renders many random combinations of inputs and bases (fixed seed) and checks
// that the helper's parser reads back exactly what Render reports.
func TestRenderGenerated(t *testing.T) {
	rng := rand.New(rand.NewSource(20261126))
	n, failed := 2000, 0
	if testing.Short() {
		n = 200
	}
	for i := range n {
		base := genBase(rng)
		add := genAddition(rng)
		gz := rng.Intn(4) == 0
		r, err := Render(base, add, gz)
		if err != nil {
			if !expectedError(base, add) {
				t.Errorf("case %d: Render(%q, %+v): %v", i, base, add, err)
			}
			continue
		}
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Logf("base %q, addition %+v, gzip %t", base, add, gz)
			checkRoundTrip(t, r, add)
			checkBaseKept(t, base, r.Data)
		})
		if t.Failed() {
			if failed++; failed > 5 {
				t.Fatal("too many failures")
			}
		}
	}
}

// genBase builds operator user-data of a random format, with a random toggle and drop-ins of
// its own, so that agreements and contradictions both occur.
func genBase(rng *rand.Rand) []byte {
	var cc strings.Builder
	cc.WriteString("#cloud-config\n# generated\n")
	if rng.Intn(2) == 0 {
		cc.WriteString("packages: [vim]\n")
	}
	switch rng.Intn(4) {
	case 0:
		cc.WriteString("clearwater: {force_ipv6: true}\n")
	case 1:
		cc.WriteString("clearwater:\n  force_ipv6: false\n")
	}
	var files []string
	if rng.Intn(3) == 0 {
		files = append(files, "- path: /etc/motd\n  content: hi\n")
	}
	if rng.Intn(4) == 0 {
		files = append(files, "- path: /etc/clearwater/force_ipv6\n")
	}
	if rng.Intn(4) == 0 {
		files = append(files, "- path: /etc/clearwater/firstboot.d/"+[]string{"10-early", "95-late"}[rng.Intn(2)]+".yaml\n  content: |\n    "+[]string{"hostname: base", "force_ipv6: true", "probe_after: 1s"}[rng.Intn(3)]+"\n")
	}
	if len(files) > 0 {
		cc.WriteString("write_files:\n" + strings.Join(files, ""))
	} else if rng.Intn(3) == 0 {
		cc.WriteString("write_files: []\n")
	}
	doc := cc.String()
	var out []byte
	switch rng.Intn(8) {
	case 0:
		out = nil
	case 1, 2:
		out = []byte(doc)
	case 3:
		out = []byte("#!/bin/sh\necho " + strings.Repeat("x", rng.Intn(50)) + "\n")
	case 4:
		out = []byte("#cloud-config-archive\n- type: text/cloud-config\n  content: |\n" + indent(doc, "    "))
	case 5:
		out = []byte("## template: jinja\n" + doc)
	case 6:
		out = []byte("Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n--XX\nContent-Type: text/cloud-config\n\n" + doc + "\n--XX\nContent-Type: text/x-shellscript\n\n#!/bin/sh\necho\n\n--XX--\n")
	case 7:
		out = []byte("#cloud-boothook\necho boot\n")
	}
	if rng.Intn(5) == 0 {
		out = gzipped(string(out))
	}
	return out
}

func indent(s, by string) string {
	return by + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+by) + "\n"
}

func genAddition(rng *rand.Rand) Addition {
	var a Addition
	switch rng.Intn(3) {
	case 0:
		a.ForceIPv6 = ref(true)
	case 1:
		a.ForceIPv6 = ref(false)
	}
	if rng.Intn(2) == 0 {
		a.Settings.Hostname = ref([]string{"cw-aio", "lab-2"}[rng.Intn(2)])
	}
	if rng.Intn(2) == 0 {
		a.Settings.ProbeAfter = dur(time.Duration(rng.Intn(5)) * time.Second)
	}
	if rng.Intn(3) == 0 {
		a.Settings.IgnoreInterfaces = &[]string{"docker*", "lxc*"}
	}
	if rng.Intn(4) == 0 {
		a.Settings.Interface = ref("eth1")
	}
	return a
}

// expectedError says whether Render must refuse this base and addition: the base's own toggle or
// late drop-ins contradict the inputs, or a wrapped base hides its helper files from the parser.
func expectedError(base []byte, add Addition) bool {
	if isGzip(base) {
		base, _ = (&budget{maxDecompressed}).gunzip(base)
	}
	p := Parse(base)
	if f := add.ForceIPv6; f != nil && (p.Force != nil && *p.Force != *f || p.Marker && !*f) {
		return true
	}
	if p.Settings != nil {
		theirs, _ := config.Parse(p.Settings.Name, p.Settings.Data)
		for _, k := range add.Settings.Set() {
			if v := theirs.Value(k); v != nil && !reflect.DeepEqual(v, add.Settings.Value(k)) {
				return true
			}
		}
	}
	return false
}

// FuzzRender feeds Render arbitrary bases: it must never panic, and whatever it renders must read
// back as it reports.
func FuzzRender(f *testing.F) {
	fuzztest.LimitMinimizing(f)
	for _, b := range renderBases {
		f.Add(b.data, uint8(0))
		f.Add(b.data, uint8(0xff))
	}
	f.Fuzz(func(t *testing.T, base []byte, sel uint8) {
		add := renderAdditions[int(sel&0x7f)%len(renderAdditions)].add
		r, err := Render(base, add, sel&0x80 != 0)
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatal(err)
			}
			return
		}
		checkRoundTrip(t, r, add)
	})
}

func BenchmarkRender(b *testing.B) {
	add := renderAdditions[len(renderAdditions)-1].add
	for _, c := range []struct {
		name string
		base []byte
	}{{"empty", nil}, {"cloud-config", []byte(ccWithComments)}, {"MIME", []byte(mimeBase)}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Render(c.base, add, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
