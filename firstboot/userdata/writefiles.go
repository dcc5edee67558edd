package userdata

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
)

// toggle reads the merged cloud-config's clearwater key: force_ipv6 is the toggle, and every other
// key is one of the helper's settings (Settings), so that an instance's whole Clearwater
// configuration rides in its own user-data and cloud-init writes nothing of it into the image.
func (r *Result) toggle(v *yaml.Node) {
	if v == nil {
		return
	}
	if v.Kind != yaml.MappingNode {
		r.note("cloud-config key %s is %s, not a mapping such as {%s: true}: no toggle from it", configKey, describe(v), forceKey)
		return
	}
	found := false
	settings := &yaml.Node{Kind: yaml.MappingNode}
	var keys []string
	for _, kv := range pairs(v) {
		switch {
		case kv.key == forceKey:
		case slices.Contains(config.Keys, kv.key):
			settings.Content = append(settings.Content, strNode(kv.key), resolve(kv.value))
			keys = append(keys, kv.key)
			continue
		default: // a key of a newer helper, say: the others still count
			r.note("cloud-config key %s.%s is not known: ignored", configKey, kv.key)
			continue
		}
		found = true
		b, ok := yamlBool(resolve(kv.value))
		if !ok {
			r.Force = nil
			r.note("cloud-config key %s.%s is %s, not true or false: no toggle from it", configKey, forceKey, describe(resolve(kv.value)))
			continue
		}
		r.Force = &b
	}
	switch {
	case !found:
		r.note("cloud-config key %s has no %s: no toggle from it", configKey, forceKey)
	case r.Force != nil:
		r.note("cloud-config key %s.%s: %t", configKey, forceKey, *r.Force)
	}
	if len(keys) > 0 {
		r.settings(settings, keys)
	}
}

// settings keeps the clearwater key's settings as a soft config source: config checks them, and a
// problem in them is a warning, never a failed boot.
func (r *Result) settings(m *yaml.Node, keys []string) {
	data, err := yaml.Marshal(m)
	if err != nil {
		r.note("cloud-config key %s: its settings cannot be read (%v): ignored", configKey, err)
		return
	}
	r.Settings = &config.Source{Name: SettingsName, Data: data, Soft: true}
	r.note("cloud-config key %s sets %s", configKey, strings.Join(keys, ", "))
}

// writeFiles finds the marker and the drop-ins among the merged cloud-config's write_files.
func (r *Result) writeFiles(v *yaml.Node, gz *budget) {
	if v == nil || v.Tag == "!!null" {
		return
	}
	if v.Kind != yaml.SequenceNode {
		r.note("write_files is %s, not a list: not read", describe(v))
		return
	}
	for i, e := range v.Content {
		r.writeFile(i+1, resolve(e), gz)
	}
}

// writeFile reads one write_files entry.
func (r *Result) writeFile(n int, e *yaml.Node, gz *budget) {
	if e == nil || e.Kind != yaml.MappingNode {
		r.note("write_files entry %d is %s, not a mapping: skipped", n, describe(e))
		return
	}
	f := map[string]*yaml.Node{}
	for _, kv := range pairs(e) {
		f[kv.key] = resolve(kv.value)
	}
	raw := scalarString(f["path"])
	if raw == "" {
		r.note("write_files entry %d has no path: skipped", n)
		return
	}
	p := cleanPath(raw)
	switch {
	case p == MarkerPath:
		r.Marker = true
		r.note("write_files entry %d writes the marker %s%s", n, p, entryFlags(f))
	case path.Dir(p) == config.DropIn && strings.HasSuffix(p, ".yaml"):
		data, err := fileContent(f, gz)
		if err != nil {
			r.note("write_files entry %d (%s): %v: not used as config", n, p, err)
			return
		}
		r.DropIns = append(r.DropIns, config.Source{Name: p, Data: data, Soft: true})
		r.note("write_files entry %d writes the config drop-in %s%s", n, p, entryFlags(f))
	case path.Dir(p) == config.DropIn:
		r.note("write_files entry %d writes %s, which is not a .yaml drop-in: the helper ignores it", n, p)
	case p == config.File:
		r.note("write_files entry %d writes %s: the baked config is not taken from user-data (use %s/*.yaml)", n, p, config.DropIn)
	}
}

// entryFlags notes the write_files options that change when or how cloud-init writes the file.
func entryFlags(f map[string]*yaml.Node) string {
	var s []string
	if b, _ := yamlBool(f["append"]); b {
		s = append(s, "append: cloud-init appends to the file; read here as the whole file")
	}
	if b, _ := yamlBool(f["defer"]); b {
		s = append(s, "defer: cloud-init writes it late, in its final stage")
	}
	if f["source"] != nil {
		s = append(s, "source: never fetched")
	}
	if len(s) == 0 {
		return ""
	}
	return " (" + strings.Join(s, "; ") + ")"
}

// fileContent decodes an entry's content as cloud-init's write_files does for its encoding.
func fileContent(f map[string]*yaml.Node, gz *budget) ([]byte, error) {
	c := f["content"]
	data, ok := scalarBytes(c)
	if c == nil {
		data, ok = []byte{}, true
	}
	if !ok {
		return nil, errors.New("content is not a string")
	}
	enc := strings.ToLower(strings.TrimSpace(scalarString(f["encoding"])))
	switch enc {
	case "", "text/plain":
		return data, nil
	case "b64", "base64":
		return unbase64(data)
	case "gz", "gzip":
		return ungzip(data, gz)
	case "gz+base64", "gzip+base64", "gz+b64", "gzip+b64":
		b, err := unbase64(data)
		if err != nil {
			return nil, err
		}
		return ungzip(b, gz)
	}
	return data, nil // cloud-init warns and writes it as text
}

func unbase64(b []byte) ([]byte, error) {
	out, err := decodeBase64(b)
	if err != nil {
		return nil, fmt.Errorf("base64: %w", err)
	}
	return out, nil
}

func ungzip(b []byte, gz *budget) ([]byte, error) {
	out, err := gz.gunzip(b)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return out, nil
}
