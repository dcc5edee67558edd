package userdata

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/hcl2helper"
	"github.com/zclconf/go-cty/cty"

	helperconfig "github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
)

func ref[T any](v T) *T { return &v }

// hclConfig is the value packer hands a datasource for an HCL block: unset attributes are null.
func hclConfig(f FlatConfig) cty.Value {
	return hcl2helper.HCL2ValueFromConfig(f, new(Datasource).ConfigSpec())
}

func execute(t *testing.T, f FlatConfig) DatasourceOutput {
	t.Helper()
	var d Datasource
	if err := d.Configure(hclConfig(f)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	v, err := d.Execute()
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	m := v.AsValueMap()
	return DatasourceOutput{
		UserData:       m["user_data"].AsString(),
		UserDataBase64: m["user_data_base64"].AsString(),
		ForceIPv6:      m["force_ipv6"].True(),
		ForceSource:    m["force_source"].AsString(),
		ContentType:    m["content_type"].AsString(),
	}
}

func TestExecuteSettingsOnly(t *testing.T) {
	out := execute(t, FlatConfig{IPv6Timeout: ref("60s"), Interface: ref(""), Hostname: ref("lab"), ProbeDHCP: ref(false),
		MetadataService: ref("never")})
	if out.ForceIPv6 || out.ForceSource != string(userdata.SourceNone) || out.ContentType != userdata.TypeCloudConfig {
		t.Errorf("outputs %+v", out)
	}
	raw, _ := base64.StdEncoding.DecodeString(out.UserDataBase64)
	if string(raw) != out.UserData {
		t.Error("user_data_base64 is not user_data encoded")
	}
	p := userdata.Parse([]byte(out.UserData))
	if len(p.Writes()) != 0 || p.Force != nil || p.Settings == nil {
		t.Fatalf("parsed %+v", p)
	}
	got, err := helperconfig.Parse("d", p.Settings.Data)
	if err != nil {
		t.Fatal(err)
	}
	// An interface set to "" is a setting of its own (un-pin a baked interface); unset ones stay out.
	if got.Interface == nil || *got.Interface != "" || got.Hostname == nil || *got.Hostname != "lab" || got.ProbeDHCP == nil || *got.ProbeDHCP ||
		got.IPv6Timeout == nil || got.ForceIPv6 != nil || got.PublicIP != nil || got.OnMissingIPv6 != nil ||
		got.MetadataService == nil || *got.MetadataService != "never" {
		t.Errorf("the clearwater key sets %+v", got)
	}
}

func TestExecuteToggle(t *testing.T) {
	cases := []struct {
		name   string
		f      FlatConfig
		force  bool
		source userdata.Source
	}{
		{"unset", FlatConfig{}, false, userdata.SourceNone},
		{"true", FlatConfig{ForceIPv6: ref(true)}, true, userdata.SourceKey},
		{"false", FlatConfig{ForceIPv6: ref(false)}, false, userdata.SourceKey},
		{"false override (deprecated, no effect)", FlatConfig{ForceIPv6: ref(false), OverrideMarker: ref(true)}, false, userdata.SourceKey},
		{"true upstream marker", FlatConfig{ForceIPv6: ref(true), UpstreamMarker: ref(true)}, true, userdata.SourceKey},
		{"base key", FlatConfig{BaseUserData: ref("#cloud-config\nclearwater: {force_ipv6: true}\n")}, true, userdata.SourceKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := execute(t, c.f)
			if out.ForceIPv6 != c.force || out.ForceSource != string(c.source) {
				t.Errorf("force_ipv6 %t from %s, want %t from %s", out.ForceIPv6, out.ForceSource, c.force, c.source)
			}
			f, s := userdata.Parse([]byte(out.UserData)).Toggle()
			if f != out.ForceIPv6 || string(s) != out.ForceSource {
				t.Errorf("the helper's parser reads %t from %s", f, s)
			}
		})
	}
}

func TestExecuteGzipAndBase64Base(t *testing.T) {
	base := "#!/bin/sh\necho operator\n"
	out := execute(t, FlatConfig{ForceIPv6: ref(true), Gzip: ref(true), BaseUserDataBase64: ref(base64.StdEncoding.EncodeToString([]byte(base)))})
	raw, err := base64.StdEncoding.DecodeString(out.UserDataBase64)
	if err != nil || out.UserData != "" || out.ContentType != userdata.ContentTypeGzip || !bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		t.Fatalf("gzip outputs: %+v (%v)", out, err)
	}
	parts, _ := userdata.Split(raw)
	if len(parts) != 2 || string(parts[0].Payload) != base || !out.ForceIPv6 {
		t.Errorf("parts %+v", parts)
	}
}

func TestConfigureCollectsErrors(t *testing.T) {
	var d Datasource
	err := d.Configure(hclConfig(FlatConfig{
		OverrideMarker: ref(true), UpstreamMarker: ref(true), OnMissingIPv6: ref("maybe"), IPv6Timeout: ref("soon"), ProbeAfter: ref("1h"),
		MetadataService: ref("sometimes"),
		Hostname:        ref("bad_host"), PublicIP: ref("127.0.0.1"), IgnoreInterfaces: []string{"br-["}, Interface: ref("a/b"),
		BaseUserData: ref("x"), BaseUserDataBase64: ref("eA=="),
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"override_marker", "upstream_marker", "on_missing_ipv6", `"maybe"`, `"fallback"`, "ipv6_timeout", "probe_after", "out of range",
		"metadata_service", "hostname", "public_ip", "ignore_interfaces", "interface", "base_user_data and base_user_data_base64: set only one of them"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

func TestConfigureRefusesContradiction(t *testing.T) {
	var d Datasource
	err := d.Configure(hclConfig(FlatConfig{ForceIPv6: ref(false), BaseUserData: ref("#cloud-config\nclearwater: {force_ipv6: true}\n")}))
	if err == nil || !strings.Contains(err.Error(), "contradicts force_ipv6 = false") {
		t.Errorf("error %v", err)
	}
	err = d.Configure(hclConfig(FlatConfig{BaseUserDataBase64: ref("not base64!")}))
	if err == nil || !strings.Contains(err.Error(), "base_user_data_base64") {
		t.Errorf("error %v", err)
	}
}

// TestExecuteFileBase reads a gzip base from base_user_data_file: the bytes that no HCL string
// can carry reach the renderer whole.
func TestExecuteFileBase(t *testing.T) {
	base := "#cloud-config\npackages: [vim]\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(base))
	zw.Close()
	path := filepath.Join(t.TempDir(), "user-data.gz")
	if err := os.WriteFile(path, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := execute(t, FlatConfig{ForceIPv6: ref(true), BaseUserDataFile: ref(path)})
	if !out.ForceIPv6 || out.ContentType != userdata.TypeCloudConfig || !strings.Contains(out.UserData, "packages: [vim]") {
		t.Errorf("outputs %+v", out)
	}
}

func TestConfigureFileBaseErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	cases := []struct {
		name string
		f    FlatConfig
		want []string
	}{
		{"unreadable", FlatConfig{BaseUserDataFile: ref(missing)}, []string{"base_user_data_file:", missing, "no such file", "${path.root}"}},
		{"with text", FlatConfig{BaseUserData: ref("#cloud-config\n"), BaseUserDataFile: ref(missing)},
			[]string{"base_user_data and base_user_data_file: set only one of them"}},
		{"not user-data", FlatConfig{BaseUserDataFile: ref(notUserData(t))}, []string{"base_user_data_file starts with", "cloud-init would ignore it"}},
		{"all three", FlatConfig{BaseUserData: ref("x"), BaseUserDataBase64: ref("eA=="), BaseUserDataFile: ref(missing)},
			[]string{"base_user_data and base_user_data_base64 and base_user_data_file: set only one of them"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d Datasource
			err := d.Configure(hclConfig(c.f))
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want it to name %q", err, w)
				}
			}
		})
	}
}

func notUserData(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(p, []byte("just notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
