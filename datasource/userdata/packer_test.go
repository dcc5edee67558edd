package userdata

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	helperconfig "github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
)

func TestMain(m *testing.M) { os.Exit(packertest.Run(m)) }

// buildTemplate renders user-data with the datasource in a real packer build, and has the core
// file builder write each result and its outputs (as JSON) to out/<name> and out/<name>.json.
const buildTemplate = `
data "clearwater-userdata" "plain" {
  force_ipv6   = true
  ipv6_timeout = "60s"
}

data "clearwater-userdata" "merged" {
  hostname       = "cw-lab"
  base_user_data = file("${path.root}/base.yaml")
}

data "clearwater-userdata" "script" {
  force_ipv6     = true
  base_user_data = file("${path.root}/base.sh")
}

data "clearwater-userdata" "override" {
  force_ipv6      = false
  override_marker = true
  ignore_interfaces = ["docker*", "ens9"]
}

data "clearwater-userdata" "upstream" {
  force_ipv6      = true
  upstream_marker = true
}

data "clearwater-userdata" "gzip" {
  force_ipv6     = true
  gzip           = true
  base_user_data = file("${path.root}/base.yaml")
}

data "clearwater-userdata" "gzipfile" {
  force_ipv6          = true
  base_user_data_file = "${path.root}/base.yaml.gz"
}

locals {
  all = {
    gzipfile = data.clearwater-userdata.gzipfile
    plain    = data.clearwater-userdata.plain
    merged   = data.clearwater-userdata.merged
    script   = data.clearwater-userdata.script
    override = data.clearwater-userdata.override
    upstream = data.clearwater-userdata.upstream
    gzip     = data.clearwater-userdata.gzip
  }
}

source "file" "ud" {}

build {
  dynamic "source" {
    for_each = local.all
    labels   = ["file.ud"]
    content {
      name    = source.key
      content = source.value.user_data_base64
      target  = "${path.root}/out/${source.key}"
    }
  }
  dynamic "source" {
    for_each = local.all
    labels   = ["file.ud"]
    content {
      name    = "${source.key}-json"
      content = jsonencode(source.value)
      target  = "${path.root}/out/${source.key}.json"
    }
  }
}
`

const baseYAML = "#cloud-config\n# the operator's own\npackages: [vim]\nwrite_files:\n  - path: /etc/motd\n    content: hello\n"

// TestPackerBuild runs the pinned packer with the plugin installed and checks every file it wrote
// with the helper's parser.
func TestPackerBuild(t *testing.T) {
	env := packertest.New(t)
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("build.pkr.hcl", buildTemplate)
	write("base.yaml", baseYAML)
	write("base.sh", "#!/bin/sh\necho operator\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(baseYAML))
	zw.Close()
	write("base.yaml.gz", gz.String())
	if res := env.Build(t, dir, "build.pkr.hcl"); res.ExitCode != 0 {
		t.Fatalf("packer build (exit %d):\n%s", res.ExitCode, res.Output)
	}
	cases := []struct {
		name        string
		force       bool
		source      userdata.Source
		contentType string
		settings    helperconfig.Partial
	}{
		{"plain", true, userdata.SourceKey, userdata.TypeCloudConfig, helperconfig.Partial{ForceIPv6: ref(true), IPv6Timeout: dur("1m")}},
		{"merged", false, userdata.SourceNone, userdata.TypeCloudConfig, helperconfig.Partial{Hostname: ref("cw-lab")}},
		{"script", true, userdata.SourceKey, userdata.ContentTypeMultipart, helperconfig.Partial{ForceIPv6: ref(true)}},
		{"override", false, userdata.SourceKey, userdata.TypeCloudConfig, helperconfig.Partial{ForceIPv6: ref(false), IgnoreInterfaces: &[]string{"docker*", "ens9"}}},
		{"upstream", true, userdata.SourceKey, userdata.TypeCloudConfig, helperconfig.Partial{ForceIPv6: ref(true)}},
		{"gzip", true, userdata.SourceKey, userdata.ContentTypeGzip, helperconfig.Partial{ForceIPv6: ref(true)}},
		{"gzipfile", true, userdata.SourceKey, userdata.TypeCloudConfig, helperconfig.Partial{ForceIPv6: ref(true)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b64, err := os.ReadFile(filepath.Join(dir, "out", c.name))
			if err != nil {
				t.Fatal(err)
			}
			data, err := base64.StdEncoding.DecodeString(string(b64))
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				UserData    string `json:"user_data"`
				ForceIPv6   bool   `json:"force_ipv6"`
				ForceSource string `json:"force_source"`
				ContentType string `json:"content_type"`
			}
			raw, err := os.ReadFile(filepath.Join(dir, "out", c.name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatal(err)
			}
			if (c.contentType == userdata.ContentTypeGzip) != (out.UserData == "") || out.UserData != "" && out.UserData != string(data) {
				t.Errorf("user_data %q does not match user_data_base64", out.UserData)
			}
			p := userdata.Parse(data)
			force, source := p.Toggle()
			if force != c.force || source != c.source || out.ForceIPv6 != force || out.ForceSource != string(source) || out.ContentType != c.contentType {
				t.Errorf("the helper reads %t from %s; outputs %+v; want %t from %s, %s", force, source, out, c.force, c.source, c.contentType)
			}
			var got helperconfig.Partial
			if p.Settings != nil {
				if got, err = helperconfig.Parse(p.Settings.Name, p.Settings.Data); err != nil {
					t.Fatal(err)
				}
			}
			got.ForceIPv6 = p.Force
			if !reflect.DeepEqual(got, c.settings) {
				t.Errorf("clearwater key's settings %+v, want %+v", got, c.settings)
			}
			// Nothing of the toggle is written into the instance by cloud-init, so that a build
			// instance leaves nothing of it in its image; but upstream's marker where asked.
			var writes []string
			if c.name == "upstream" {
				writes = []string{userdata.MarkerPath}
			}
			if got := p.Writes(); !reflect.DeepEqual(got, writes) {
				t.Errorf("cloud-init would write %q into the instance, want %q", got, writes)
			}
			if c.name == "merged" || c.name == "gzip" || c.name == "gzipfile" {
				if !strings.Contains(string(unzipMaybe(t, data)), "# the operator's own") || !strings.Contains(string(unzipMaybe(t, data)), "path: /etc/motd") {
					t.Errorf("the operator's user-data is not kept:\n%s", data)
				}
			}
		})
	}
}

// TestPackerBuildContradiction checks that packer reports the datasource's error and fails.
func TestPackerBuildContradiction(t *testing.T) {
	env := packertest.New(t)
	dir := t.TempDir()
	tpl := `
data "clearwater-userdata" "bad" {
  force_ipv6     = false
  base_user_data = "#cloud-config\nclearwater: {force_ipv6: true}\n"
}
source "file" "ud" {
  content = data.clearwater-userdata.bad.user_data
  target  = "${path.root}/out"
}
build { sources = ["source.file.ud"] }
`
	if err := os.WriteFile(filepath.Join(dir, "bad.pkr.hcl"), []byte(tpl), 0o644); err != nil {
		t.Fatal(err)
	}
	res := env.Build(t, dir, "bad.pkr.hcl")
	if res.ExitCode == 0 || !strings.Contains(res.Output, "contradicts force_ipv6 = false") {
		t.Errorf("packer build exit %d, want a failure naming the contradiction:\n%s", res.ExitCode, res.Output)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("the build wrote its file despite the error")
	}
}

func dur(s string) *helperconfig.Duration {
	v, err := helperconfig.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	d := helperconfig.Duration(v)
	return &d
}

func unzipMaybe(t *testing.T, b []byte) []byte {
	t.Helper()
	parts, _ := userdata.Split(b)
	var all []byte
	for _, p := range parts {
		all = append(all, p.Payload...)
	}
	return all
}
