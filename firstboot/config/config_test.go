package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseErrorsNameFileKeyAndAcceptedValues(t *testing.T) {
	for _, tc := range []struct {
		name, in, key string
		want          []string // substrings of the message
	}{
		{"unknown key", "force_ipv4: true\n", "force_ipv4", []string{"unknown key", "force_ipv6", "metadata_timeout"}},
		{"bad metadata_service", "metadata_service: sometimes\n", "metadata_service", []string{`"sometimes"`, `"auto"`, `"always"`, `"never"`}},
		{"bad policy", "on_missing_ipv6: retry\n", "on_missing_ipv6", []string{`"retry"`, `"fallback"`, `"fail"`}},
		{"bad duration", "ipv6_timeout: 30\n", "ipv6_timeout", []string{"not a duration", "10s"}},
		{"negative duration", "ipv4_wait: -1s\n", "ipv4_wait", []string{"out of range"}},
		{"huge duration", "ipv4_wait: 2h\n", "ipv4_wait", []string{"out of range", "10m0s"}},
		{"bool as string", "force_ipv6: maybe\n", "force_ipv6", []string{"bool"}},
		{"bad hostname", "hostname: cw_aio\n", "hostname", []string{"not a valid host name"}},
		{"bad public ip", "public_ip: 10.0.0.256\n", "public_ip", []string{"not a usable"}},
		{"loopback public ip", "public_ip: 127.0.0.1\n", "public_ip", []string{"not a usable"}},
		{"bad interface", "interface: eth0/1\n", "interface", []string{"not an interface name"}},
		{"bad pattern", "ignore_interfaces: ['[']\n", "ignore_interfaces", []string{"not a valid pattern"}},
		{"twice", "hostname: a\nhostname: b\n", "hostname", []string{"set twice"}},
		{"not a mapping", "- force_ipv6\n", "", []string{"want a mapping"}},
		{"not yaml", "force_ipv6: [\n", "", []string{"not valid YAML"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("/etc/clearwater/firstboot.yaml", []byte(tc.in))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) = %v, want an *Error", tc.in, err)
			}
			if e.File != "/etc/clearwater/firstboot.yaml" || e.Key != tc.key {
				t.Errorf("error names file %q key %q, want %q", e.File, e.Key, tc.key)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseEmptyAndCommentOnlySetNothing(t *testing.T) {
	for _, in := range []string{"", "# nothing\n", "---\n", "\n\n"} {
		p, err := Parse("x", []byte(in))
		if err != nil || !reflect.DeepEqual(p, Partial{}) {
			t.Errorf("Parse(%q) = %+v, %v; want nothing set", in, p, err)
		}
	}
}

func TestRenderParsesBackToTheSameConfig(t *testing.T) {
	c := Default()
	c.ForceIPv6, c.OnMissingIPv6, c.Interface = true, Fail, "ens3"
	c.IgnoreInterfaces = []string{"docker*", "lxc*"}
	c.Hostname, c.PublicIP = "ims.example.com", "2001:db8::7"
	c.IPv4Wait, c.IPv6Timeout, c.ProbeAfter, c.MetadataTimeout = 3*time.Second, 90*time.Second, 0, 1500*time.Millisecond
	c.ProbeDHCP, c.MetadataService = false, MetadataNever
	data, err := Render("baked by packer\nsecond line", full(c))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "# baked by packer\n# second line\n") {
		t.Errorf("header missing:\n%s", data)
	}
	got, _, err := Merge([]Source{{Name: "r", Data: data}})
	if err != nil {
		t.Fatalf("rendered file does not parse: %v\n%s", err, data)
	}
	got.Origin, c.Origin = nil, nil
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip:\n got %+v\nwant %+v\nfile:\n%s", got, c, data)
	}
}

func TestRenderRefusesWhatTheHelperWouldRefuse(t *testing.T) {
	bad := "sometimes"
	if _, err := Render("", Partial{OnMissingIPv6: &bad}); err == nil {
		t.Fatal("Render accepted on_missing_ipv6: sometimes")
	}
}

func TestRenderPartialWritesOnlySetKeys(t *testing.T) {
	yes := true
	d := Duration(time.Minute)
	data, err := Render("", Partial{ForceIPv6: &yes, IPv6Timeout: &d})
	if err != nil {
		t.Fatal(err)
	}
	if want := "force_ipv6: true\nipv6_timeout: 1m0s\n"; string(data) != want {
		t.Errorf("Render = %q, want %q", data, want)
	}
	empty, err := Render("", Partial{})
	if err != nil || len(empty) != 0 {
		t.Errorf("Render(empty) = %q, %v; want nothing", empty, err)
	}
}

func TestLoadOrderAndUserDataDropIns(t *testing.T) {
	root := t.TempDir()
	write(t, root, File, "hostname: base\nipv4_wait: 1s\n")
	write(t, root, DropIn+"/20-b.yaml", "hostname: twenty\n")
	write(t, root, DropIn+"/10-a.yaml", "hostname: ten\nforce_ipv6: true\n")
	write(t, root, DropIn+"/30-ignored.conf", "not: yaml: at all")
	extra := []Source{
		{Name: "/etc/clearwater/firstboot.d/25-ud.yaml", Data: []byte("ipv4_wait: 2s\n")},
		{Name: "/etc/clearwater/firstboot.d/40-bad.yaml", Data: []byte("force_ipv6: perhaps\n")},
	}
	c, warnings, err := Load(root, "", Extra{DropIns: extra})
	if err != nil {
		t.Fatal(err)
	}
	if c.Hostname != "twenty" || !c.ForceIPv6 || c.IPv4Wait != 2*time.Second {
		t.Errorf("got hostname %q force %t ipv4_wait %s; want twenty, true, 2s", c.Hostname, c.ForceIPv6, c.IPv4Wait)
	}
	if got := c.Origin["hostname"]; got != filepath.Join(root, DropIn, "20-b.yaml") {
		t.Errorf("origin of hostname = %q", got)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "40-bad.yaml") {
		t.Errorf("warnings = %q, want one about 40-bad.yaml", warnings)
	}
}

// TestLoadLastAndSkip: the user-data key's settings apply after every drop-in, whatever its name,
// and an on-disk drop-in named in Skip does not count, with a warning that says why.
func TestLoadLastAndSkip(t *testing.T) {
	root := t.TempDir()
	write(t, root, File, "hostname: base\n")
	write(t, root, DropIn+"/90-clearwater-userdata.yaml", "force_ipv6: true\nipv4_wait: 7s\n")
	write(t, root, DropIn+"/95-site.yaml", "hostname: site\n")
	extra := Extra{
		Last: []Source{{Name: "user-data key clearwater", Data: []byte("hostname: from-key\n")}},
		Skip: map[string]string{DropIn + "/90-clearwater-userdata.yaml": "another instance's"},
	}
	c, warnings, err := Load(root, "", extra)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hostname != "from-key" || c.Origin["hostname"] != "user-data key clearwater" {
		t.Errorf("hostname %q from %q, want from-key from the key", c.Hostname, c.Origin["hostname"])
	}
	if c.ForceIPv6 || c.IPv4Wait != Default().IPv4Wait {
		t.Errorf("the skipped drop-in counted: force %t ipv4_wait %s", c.ForceIPv6, c.IPv4Wait)
	}
	want := "ignored " + DropIn + "/90-clearwater-userdata.yaml: another instance's"
	if !slices.Contains(warnings, want) {
		t.Errorf("warnings %q lack %q", warnings, want)
	}
	// A bad key setting is a warning, never a failure.
	extra.Last = []Source{{Name: "user-data key clearwater", Data: []byte("ipv4_wait: soon\n")}}
	if _, warnings, err = Load(root, "", extra); err != nil || !slices.ContainsFunc(warnings, func(w string) bool {
		return strings.Contains(w, "user-data key clearwater: ipv4_wait")
	}) {
		t.Errorf("a bad key setting: err %v, warnings %q", err, warnings)
	}
}

func TestLoadBadBakedFileIsAnError(t *testing.T) {
	root := t.TempDir()
	write(t, root, DropIn+"/10-a.yaml", "probe_dhcp: 3\n")
	_, _, err := Load(root, "", Extra{})
	if err == nil || !strings.Contains(err.Error(), "10-a.yaml: probe_dhcp") {
		t.Fatalf("Load = %v, want an error naming 10-a.yaml and probe_dhcp", err)
	}
}

func TestLoadMissingFilesGiveDefaults(t *testing.T) {
	c, w, err := Load(t.TempDir(), "", Extra{})
	if err != nil || len(w) != 0 {
		t.Fatal(err, w)
	}
	c.Origin = nil
	d := Default()
	d.Origin = nil
	if !reflect.DeepEqual(c, d) {
		t.Errorf("Load of an empty root = %+v, want defaults", c)
	}
}

func write(t *testing.T, root, name, content string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPartialSetListsSetKeysInOrder(t *testing.T) {
	if got := (Partial{}).Set(); len(got) != 0 {
		t.Errorf("empty Partial sets %q", got)
	}
	if got := full(Default()).Set(); !reflect.DeepEqual(got, Keys) {
		t.Errorf("full(Default()).Set() = %q, want every key %q", got, Keys)
	}
	yes, host := true, "h"
	if got := (Partial{Hostname: &host, ForceIPv6: &yes}).Set(); !reflect.DeepEqual(got, []string{"force_ipv6", "hostname"}) {
		t.Errorf("Set() = %q", got)
	}
}

// full returns every setting of c as a Partial, for rendering a complete file.
func full(c Config) Partial {
	var p Partial
	cv := reflect.ValueOf(c)
	for i, k := range Keys {
		v := cv.FieldByName(reflect.TypeFor[Partial]().Field(i).Name).Interface()
		if d, ok := v.(time.Duration); ok {
			v = d.String()
		}
		if err := p.Put(k, v); err != nil {
			panic(err)
		}
	}
	return p
}

// TestSettingsAgree holds Config and Partial together: every key is a Partial field whose value
// type is the Config field's of the same name (time.Duration for Duration), and nothing else.
func TestSettingsAgree(t *testing.T) {
	pt, ct := reflect.TypeFor[Partial](), reflect.TypeFor[Config]()
	if len(Keys) != pt.NumField() || ct.NumField() != pt.NumField()+1 {
		t.Fatalf("%d keys, Partial has %d fields, Config %d (with Origin)", len(Keys), pt.NumField(), ct.NumField())
	}
	for i, k := range Keys {
		pf := pt.Field(i)
		cf, ok := ct.FieldByName(pf.Name)
		want := pf.Type.Elem()
		if want == reflect.TypeFor[Duration]() {
			want = reflect.TypeFor[time.Duration]()
		}
		if !ok || cf.Type != want {
			t.Errorf("%s: Partial.%s (%s) has no Config field of type %s", k, pf.Name, pf.Type, want)
		}
		if k == "" || strings.ContainsAny(k, " ,") {
			t.Errorf("Partial.%s: bad key %q", pf.Name, k)
		}
	}
}

func TestValidateReturnsEveryProblem(t *testing.T) {
	bad, ip, policy, ms := "eth0/1", "127.0.0.1", "retry", "sometimes"
	p := Partial{OnMissingIPv6: &policy, Interface: &bad, PublicIP: &ip, MetadataService: &ms, IgnoreInterfaces: &[]string{"["}}
	errs := Errors(p.Validate())
	var keys []string
	for _, e := range errs {
		keys = append(keys, e.Key)
	}
	if want := []string{"on_missing_ipv6", "interface", "ignore_interfaces", "public_ip", "metadata_service"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("Validate names %q, want %q", keys, want)
	}
	_, err := Parse("f.yaml", []byte("on_missing_ipv6: retry\nhostname: cw_aio\n"))
	if errs := Errors(err); len(errs) != 2 || errs[0].File != "f.yaml" || errs[1].File != "f.yaml" {
		t.Errorf("Parse: %v", err)
	}
}

func TestPutChecksTheType(t *testing.T) {
	var p Partial
	for _, tc := range []struct {
		key  string
		v    any
		want string // "" for no error, else part of it
	}{
		{"hostname", "lab", ""},
		{"probe_dhcp", false, ""},
		{"ignore_interfaces", []string{"ens9"}, ""},
		{"ipv4_wait", "1m", ""},
		{"ipv4_wait", "1h", "out of range"},
		{"hostname", true, "want a string"},
		{"probe_dhcp", nil, "want a value"},
		{"force_ipv4", true, "unknown key"},
	} {
		err := p.Put(tc.key, tc.v)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Put(%s, %v) = %v, want %q", tc.key, tc.v, err, tc.want)
		}
	}
	if p.Value("hostname") != "lab" || p.Value("probe_dhcp") != false || p.Value("ipv4_wait") != Duration(time.Minute) ||
		!reflect.DeepEqual(p.Value("ignore_interfaces"), []string{"ens9"}) || p.Value("interface") != nil {
		t.Errorf("values: %+v", p)
	}
}
