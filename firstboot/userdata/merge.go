package userdata

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file merges cloud-config parts as cloud-init's mergers do (cloudinit/mergers): a part's
// merge_how (or merge_type) key and its Merge-Type header choose how it merges into the parts
// before it; without either, the default "dict(replace)+list()+str()" applies, under which a
// later part's top-level key replaces an earlier one's whole.

// defaultMergeType is how cloud-init merges a cloud-config part that says nothing else.
const defaultMergeType = "dict(replace)+list()+str()"

// merger says how one cloud-config merges into another: the options of cloud-init's dict, list
// and str mergers, for the types that its spec names (a type it does not name keeps the old
// value, as in cloud-init: "list(append)" alone merges nothing into the top-level mapping).
type merger struct {
	Dict, List, Str *mergeOpts
}

// mergeOpts are one merger's method ("replace", "no_replace", "append", "prepend") and options
// ("recurse_array", "recurse_str", "recurse_dict", "allow_delete", "append").
type mergeOpts struct {
	Method string
	Opts   map[string]bool
}

var defaultMerger = mustMerger(defaultMergeType)

func mustMerger(spec string) merger {
	var m merger
	if err := m.addSpec(spec); err != nil {
		panic(err)
	}
	return m
}

func (m merger) empty() bool { return m.Dict == nil && m.List == nil && m.Str == nil }

var mergerName = regexp.MustCompile(`^([a-zA-Z_][A-Za-z0-9_]*)\((.*?)\)$`)

// addSpec reads a merge spec such as "list(append)+dict(recurse_array)+str()".
func (m *merger) addSpec(spec string) error {
	for _, item := range strings.Split(spec, "+") {
		item = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(item)), "-", "_")
		if item == "" {
			continue
		}
		g := mergerName.FindStringSubmatch(item)
		if g == nil {
			return fmt.Errorf("merger %q is not in the form name(options)", item)
		}
		if err := m.add(g[1], strings.Split(g[2], ",")); err != nil {
			return err
		}
	}
	return nil
}

// addNode reads a merge_how value: a spec string, or a list of {name, settings} mappings or
// [name, option...] lists.
func (m *merger) addNode(n *yaml.Node) error {
	if n == nil || n.Tag == "!!null" {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return m.addSpec(n.Value)
	}
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("merge_how is %s, not a string or a list", describe(n))
	}
	for _, item := range n.Content {
		if name, opts := mergerItem(resolve(item)); name != "" {
			if err := m.add(strings.ReplaceAll(name, "-", "_"), opts); err != nil {
				return err
			}
		}
	}
	return nil
}

func mergerItem(n *yaml.Node) (string, []string) {
	var name string
	var opts []string
	switch {
	case n == nil:
	case n.Kind == yaml.MappingNode:
		for _, kv := range pairs(n) {
			switch v := resolve(kv.value); kv.key {
			case "name":
				name = strings.TrimSpace(scalarString(v))
			case "settings":
				opts = scalarList(v.Content)
			}
		}
	case n.Kind == yaml.SequenceNode && len(n.Content) > 0:
		name = scalarString(resolve(n.Content[0]))
		opts = scalarList(n.Content[1:])
	}
	return name, opts
}

func scalarList(ns []*yaml.Node) []string {
	var out []string
	for _, x := range ns {
		out = append(out, scalarString(resolve(x)))
	}
	return out
}

// add sets one named merger's options, unless an earlier merger already covers its type (the
// first wins, as in cloud-init's LookupMerger).
func (m *merger) add(name string, opts []string) error {
	set := map[string]bool{}
	for _, o := range opts {
		if o = strings.ToLower(strings.TrimSpace(o)); o != "" {
			set[o] = true
		}
	}
	slot, methods := &m.Str, []string{""}
	switch strings.TrimPrefix(name, "m_") {
	case "dict":
		slot, methods = &m.Dict, []string{"replace", "no_replace"}
	case "list":
		slot, methods = &m.List, []string{"append", "prepend", "replace", "no_replace"}
	case "str", "unicode":
	default:
		return fmt.Errorf("no merger named %q (cloud-init knows dict, list and str)", name)
	}
	if *slot != nil {
		return nil
	}
	// The method is the first of the merger's methods that the options name, else its default.
	method := map[string]string{"dict": "no_replace", "list": "replace"}[strings.TrimPrefix(name, "m_")]
	for _, x := range methods {
		if set[x] {
			method = x
			break
		}
	}
	*slot = &mergeOpts{Method: method, Opts: set}
	return nil
}

// pyType is the Python type that PyYAML would give a node, as far as the mergers care. A plain
// on, off, yes or no is a string to yaml.v3 (YAML 1.2) but a bool to PyYAML (YAML 1.1), and no
// merger of cloud-init takes a bool: merged into, it stays.
func pyType(n *yaml.Node) string {
	switch {
	case n == nil:
		return "none"
	case n.Kind == yaml.MappingNode:
		return "dict"
	case n.Kind == yaml.SequenceNode:
		return "list"
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		if _, ok := yamlBool(n); ok {
			return "bool"
		}
		return "str"
	}
	return "other"
}

// merge merges b into a as cloud-init's LookupMerger does; it builds new nodes and never
// changes its inputs. depth bounds the recursion (the YAML parser already bounds nesting).
func (m merger) merge(a, b *yaml.Node, depth int) *yaml.Node {
	a, b = resolve(a), resolve(b)
	if depth > 64 {
		return a
	}
	switch pyType(a) {
	case "dict":
		if m.Dict != nil {
			return m.mergeDict(a, b, depth)
		}
	case "list":
		if m.List != nil {
			return m.mergeList(a, b, depth)
		}
	case "str":
		if m.Str != nil {
			if m.Str.Opts["append"] && pyType(b) == "str" {
				return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: a.Value + b.Value}
			}
			return b
		}
	}
	return a // no merger for this type: cloud-init keeps the old value
}

func (m merger) mergeDict(a, b *yaml.Node, depth int) *yaml.Node {
	if pyType(b) != "dict" {
		return a
	}
	out := cloudDoc{}
	for _, kv := range pairs(a) {
		out.set(kv.key, kv.value)
	}
	o := m.Dict.Opts
	for _, kv := range pairs(b) {
		old, ok := out.Values[kv.key]
		v := resolve(kv.value)
		switch {
		case !ok:
			out.set(kv.key, v)
		case (v == nil || v.Tag == "!!null") && o["allow_delete"]:
			out.remove(kv.key)
		case m.Dict.Method == "replace":
			out.set(kv.key, v)
		case pyType(v) == "list" && (o["recurse_array"] || o["recurse_list"]),
			pyType(v) == "str" && o["recurse_str"],
			pyType(v) == "dict":
			out.set(kv.key, m.merge(old, v, depth+1))
		}
	}
	return out.node()
}

func (m merger) mergeList(a, b *yaml.Node, depth int) *yaml.Node {
	method := m.List.Method
	if pyType(b) != "list" {
		if method == "replace" {
			return b
		}
		return a
	}
	seq := func(items ...[]*yaml.Node) *yaml.Node {
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, x := range items {
			n.Content = append(n.Content, x...)
		}
		return n
	}
	switch method {
	case "append":
		return seq(a.Content, b.Content)
	case "prepend":
		return seq(b.Content, a.Content)
	case "no_replace":
		return seq(a.Content)
	}
	out := seq(a.Content)
	o := m.List.Opts
	for i := 0; i < min(len(a.Content), len(b.Content)); i++ {
		nv := resolve(b.Content[i])
		switch pyType(nv) {
		case "list":
			if o["recurse_array"] || o["recurse_list"] {
				nv = m.merge(a.Content[i], nv, depth+1)
			}
		case "str":
			if o["recurse_str"] {
				nv = m.merge(a.Content[i], nv, depth+1)
			}
		case "dict":
			if o["recurse_dict"] {
				nv = m.merge(a.Content[i], nv, depth+1)
			}
		}
		out.Content[i] = nv
	}
	return out
}

// node turns c back into a YAML mapping.
func (c cloudDoc) node() *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, k := range c.Keys {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, c.Values[k])
	}
	return n
}

func (c *cloudDoc) remove(key string) {
	delete(c.Values, key)
	for i, k := range c.Keys {
		if k == key {
			c.Keys = append(c.Keys[:i:i], c.Keys[i+1:]...)
			return
		}
	}
}

// mergeWith merges o into c with m, as cloud-init merges a cloud-config part into the parts before.
func (c *cloudDoc) mergeWith(o cloudDoc, m merger) {
	merged := m.merge(c.node(), o.node(), 0)
	out := cloudDoc{}
	for _, kv := range pairs(merged) {
		out.set(kv.key, resolve(kv.value))
	}
	*c = out
}

// mergerFor returns how cloud-init merges a cloud-config part: by its merge_how key (else
// merge_type), which it removes from cc as cloud-init does, then its Merge-Type header; by
// defaultMergeType when neither says anything. An error means cloud-init skips the part.
func mergerFor(cc *cloudDoc, header string) (merger, error) {
	var m merger
	for _, k := range []string{"merge_how", "merge_type"} {
		v, ok := cc.Values[k]
		if !ok {
			continue
		}
		cc.remove(k)
		if v == nil || v.Tag == "!!null" {
			continue
		}
		if err := m.addNode(v); err != nil {
			return merger{}, err
		}
		break
	}
	if err := m.addSpec(header); err != nil {
		return merger{}, err
	}
	if m.empty() {
		return defaultMerger, nil
	}
	return m, nil
}
