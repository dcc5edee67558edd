package userdata

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
)

// needCloudInit skips without Debian's cloud-init package, except under CI=true.
func needCloudInit(t *testing.T) {
	t.Helper()
	err := exec.Command("/usr/bin/python3", "-c", "import cloudinit.user_data").Run()
	if err == nil {
		_, err = exec.LookPath("cloud-init")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cloud-init is needed (apt-get install cloud-init): %v", err)
		}
		t.Skipf("cloud-init is not installed: %v", err)
	}
}

// TestRenderCloudInitSchema checks what Render writes with cloud-init's own schema check, and
// checks that the check can fail.
func TestRenderCloudInitSchema(t *testing.T) {
	needCloudInit(t)
	dir := t.TempDir()
	schema := func(name string, data []byte) (string, error) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("cloud-init", "schema", "--config-file", p).CombinedOutput()
		return string(out), err
	}
	if out, err := schema("bad", []byte("#cloud-config\nwrite_files:\n  - content: no path\n")); err == nil {
		t.Fatalf("cloud-init schema accepts a write_files entry without a path:\n%s", out)
	}
	seen := map[string]bool{}
	bases := map[string][]byte{"empty": nil, "cloud-config": []byte(ccWithComments), "script": []byte("#!/bin/sh\necho\n")}
	for bn, base := range bases {
		for _, a := range renderAdditions {
			r, err := Render(base, a.add, false)
			if err != nil {
				t.Fatalf("%s/%s: %v", bn, a.name, err)
			}
			parts, _ := Split(r.Data)
			for i, p := range parts {
				if p.Type != TypeCloudConfig || seen[string(p.Payload)] {
					continue
				}
				seen[string(p.Payload)] = true
				if out, err := schema(fmt.Sprintf("%s-%s-%d", bn, a.name, i), p.Payload); err != nil || !strings.Contains(out, "Valid cloud-config") {
					t.Errorf("%s/%s part %d: cloud-init schema: %v\n%s\n%s", bn, a.name, i+1, err, out, p.Payload)
				}
			}
		}
	}
}

// mergeOracle reads user-data files with cloud-init's own code, merges their cloud-config parts
// as cloud-init does (Merge-Type headers and merge_how honoured), and prints per file the toggle,
// the write_files paths in order and the decoded content of the helper's drop-ins.
const mergeOracle = `
import importlib.util, json, os, sys, tempfile, jinja2
from cloudinit import handlers, helpers, user_data, util
from cloudinit.handlers.cloud_config import CloudConfigPartHandler
from cloudinit.config.cc_write_files import extract_contents

def one(fn):
    paths = helpers.Paths({'cloud_dir': tempfile.mkdtemp()})
    msg = user_data.UserDataProcessor(paths).process(open(fn, 'rb').read())
    h = CloudConfigPartHandler(paths)
    h.handle_part(None, handlers.CONTENT_START, None, None, None, None)
    for part in msg.walk():
        ctype, payload = part.get_content_type(), util.fully_decoded_payload(part)
        if ctype == 'text/jinja2':  # rendered as cloud-init's jinja handler does, with made-up instance data
            payload = jinja2.Template(payload.split('\n', 1)[1]).render(v1={'local_hostname': 'oracle'})
            ctype = handlers.type_from_starts_with(payload)
        if ctype == 'text/cloud-config':
            h.handle_part(None, ctype, part.get_filename() or '', payload, None, dict(part))
    cfg = h.cloud_buf or {}
    cw = cfg.get('clearwater')
    force = cw.get('force_ipv6') if isinstance(cw, dict) and isinstance(cw.get('force_ipv6'), bool) else None
    files, dropins = [], []
    wf = cfg.get('write_files')
    for e in wf if isinstance(wf, list) else []:
        if isinstance(e, dict) and isinstance(e.get('path'), str):
            p = os.path.normpath('/' + e['path'].lstrip('/'))
            files.append(p)
            if os.path.dirname(p) == '/etc/clearwater/firstboot.d' and p.endswith('.yaml'):
                c = extract_contents(e.get('content', ''), e.get('encoding', ''))
                dropins.append({'path': p, 'content': c.decode() if isinstance(c, bytes) else c})
    return {'force': force, 'files': files, 'dropins': dropins, 'clearwater': cw if isinstance(cw, dict) else None}

out = {}
for fn in sys.argv[1:]:
    try:
        out[os.path.basename(fn)] = one(fn)
    except Exception as e:
        out[os.path.basename(fn)] = {'error': repr(e)}
json.dump(out, sys.stdout)
`

type mergeView struct {
	Force   *bool    `json:"force"`
	Files   []string `json:"files"`
	DropIns []struct {
		Path    string `json:"path"`
		Content string `json:"content"`
	} `json:"dropins"`
	Clearwater map[string]any `json:"clearwater"`
	Error      string         `json:"error"`
}

// settings are the clearwater key's settings in cloud-init's merged view (force_ipv6 and keys
// the helper does not know aside), as the helper's config reads them.
func (v mergeView) settings() (*config.Source, error) {
	m := maps.Clone(v.Clearwater)
	delete(m, forceKey)
	maps.DeleteFunc(m, func(k string, _ any) bool { return !slices.Contains(config.Keys, k) }) // the helper ignores them
	if len(m) == 0 {
		return nil, nil
	}
	data, err := yaml.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &config.Source{Name: SettingsName, Data: data, Soft: true}, nil
}

// toggle is the helper's precedence on cloud-init's merged view.
func (v mergeView) toggle() (bool, Source) {
	var srcs []config.Source
	for _, d := range v.DropIns {
		srcs = append(srcs, config.Source{Name: d.Path, Data: []byte(d.Content), Soft: true})
	}
	settings, _ := v.settings()
	return Result{Force: v.Force, Marker: containsString(v.Files, MarkerPath), DropIns: srcs, Settings: settings}.Toggle()
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type oracleCase struct {
	name string
	base []byte
	add  Addition
	out  Rendered
}

// TestRenderAgainstCloudInit renders every base with every addition, plus generated ones, and has
// cloud-init's own code merge the result: cloud-init must keep the operator's write_files, in
// order, ahead of ours, and read the toggle and the settings that Render reports. This is what
// proves the Merge-Type header of the MIME part.
func TestRenderAgainstCloudInit(t *testing.T) {
	needCloudInit(t)
	var cases []oracleCase
	for _, b := range renderBases {
		if strings.HasPrefix(string(b.data), "#include") { // cloud-init would fetch the URL
			continue
		}
		for _, a := range renderAdditions {
			if r, err := Render(b.data, a.add, false); err == nil {
				cases = append(cases, oracleCase{b.name + "/" + a.name, b.data, a.add, r})
			}
		}
	}
	rng := rand.New(rand.NewSource(7))
	for i := range 300 {
		base, add := genBase(rng), genAddition(rng)
		if r, err := Render(base, add, rng.Intn(3) == 0); err == nil {
			cases = append(cases, oracleCase{fmt.Sprintf("generated %d", i), base, add, r})
		}
	}
	dir := t.TempDir()
	args := []string{"-c", mergeOracle}
	for i, c := range cases {
		for _, kind := range []string{"base", "out"} {
			data := map[string][]byte{"base": c.base, "out": c.out.Data}[kind]
			p := filepath.Join(dir, fmt.Sprintf("%d-%s", i, kind))
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			args = append(args, p)
		}
	}
	raw, err := exec.Command("/usr/bin/python3", args...).Output()
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	var views map[string]mergeView
	if err := json.Unmarshal(raw, &views); err != nil {
		t.Fatalf("oracle output: %v", err)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base, out := views[fmt.Sprintf("%d-base", i)], views[fmt.Sprintf("%d-out", i)]
			if out.Error != "" {
				t.Fatalf("cloud-init cannot read the result: %s", out.Error)
			}
			if len(out.Files) < len(base.Files) || !reflect.DeepEqual(out.Files[:len(base.Files)], base.Files) {
				t.Errorf("cloud-init's write_files: the operator's %q are not kept first in %q", base.Files, out.Files)
			}
			if force, src := out.toggle(); force != c.out.ForceIPv6 || src != c.out.ForceSource {
				t.Errorf("cloud-init's merged config gives force %t from %s; Render reports %t from %s\nbase %q\nout %q", force, src, c.out.ForceIPv6, c.out.ForceSource, c.base, c.out.Data)
			}
			for _, f := range out.Files {
				if !containsString(base.Files, f) && !(c.add.UpstreamMarker && f == MarkerPath) {
					t.Errorf("cloud-init writes %s into the instance from what Render added", f)
				}
			}
			got := config.Partial{}
			src, err := out.settings()
			if err == nil && src != nil {
				got, err = config.Parse(src.Name, src.Data)
			}
			if err != nil {
				t.Fatalf("cloud-init's clearwater key is not what the helper reads: %v", err)
			}
			got.ForceIPv6 = out.Force
			if !reflect.DeepEqual(got, c.out.Settings) {
				t.Errorf("cloud-init's clearwater key reads as %s, Render reports %s", showPartial(got), showPartial(c.out.Settings))
			}
		})
	}
}
