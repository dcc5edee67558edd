package userdata

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// cloudDoc is the top-level mapping of a cloud-config document: its keys in the order first
// seen, each with its value as a YAML node (aliases resolved).
type cloudDoc struct {
	Keys   []string
	Values map[string]*yaml.Node
}

// decodeCloudConfig reads a cloud-config payload as cloud-init's yaml.safe_load does: one YAML
// document whose root is a mapping; a key given twice keeps its last value. The "#cloud-config"
// line is a YAML comment, so a payload may carry it or not (MIME parts typed text/cloud-config
// and archive entries often do not).
func decodeCloudConfig(payload []byte) (cloudDoc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(stripBOM(payload)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return cloudDoc{}, errors.New("empty cloud-config")
		}
		return cloudDoc{}, errors.New("not valid YAML: " + yamlError(err))
	}
	var second yaml.Node
	if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
		return cloudDoc{}, errors.New("more than one YAML document (cloud-init rejects that)")
	}
	if err := checkTags(&doc); err != nil {
		return cloudDoc{}, err
	}
	root := resolve(docRoot(&doc))
	if root == nil || root.Tag == "!!null" {
		return cloudDoc{}, errors.New("empty cloud-config")
	}
	if root.Kind != yaml.MappingNode {
		return cloudDoc{}, errors.New("not a YAML mapping (key: value)")
	}
	c := cloudDoc{Values: map[string]*yaml.Node{}}
	for _, kv := range pairs(root) {
		c.set(kv.key, resolve(kv.value))
	}
	return c, nil
}

func (c *cloudDoc) set(key string, v *yaml.Node) {
	if c.Values == nil {
		c.Values = map[string]*yaml.Node{}
	}
	if _, ok := c.Values[key]; !ok {
		c.Keys = append(c.Keys, key)
	}
	c.Values[key] = v
}

type pair struct {
	key   string
	value *yaml.Node
}

// maxMergeDepth bounds how deep YAML merge keys ("<<") are followed.
const maxMergeDepth = 8

// pairs lists a mapping's key/value pairs, merge keys ("<<: *anchor") expanded, in an order where
// a later pair wins over an earlier one with the same key: merged keys first (the first merged
// mapping winning among them), then the mapping's own keys, as YAML 1.1 says.
func pairs(m *yaml.Node) []pair { return pairsDepth(m, 0) }

func pairsDepth(m *yaml.Node, depth int) []pair {
	var merged, own []pair
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolve(m.Content[i]), m.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			continue // a complex key cannot name a setting
		}
		if k.Tag == "!!merge" && depth < maxMergeDepth {
			merged = append(mergeSources(resolve(v), depth), merged...)
			continue
		}
		own = append(own, pair{k.Value, v})
	}
	return append(merged, own...)
}

func mergeSources(v *yaml.Node, depth int) []pair {
	switch {
	case v == nil:
		return nil
	case v.Kind == yaml.MappingNode:
		return pairsDepth(v, depth+1)
	case v.Kind == yaml.SequenceNode:
		var out []pair
		for _, m := range v.Content {
			if m = resolve(m); m != nil && m.Kind == yaml.MappingNode {
				out = append(pairsDepth(m, depth+1), out...)
			}
		}
		return out
	}
	return nil
}

func docRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return doc.Content[0]
	}
	return nil
}

// resolve follows aliases to the node they name (bounded: yaml.v3 rejects alias cycles).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// scalarBytes returns a scalar's content: a !!binary scalar decoded, null as empty.
func scalarBytes(n *yaml.Node) ([]byte, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return nil, false
	}
	switch n.Tag {
	case "!!null":
		return []byte{}, true
	case "!!binary":
		b, err := decodeBase64([]byte(n.Value))
		return b, err == nil
	}
	return []byte(n.Value), true
}

func scalarString(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// yamlBool reads a boolean as PyYAML's safe_load (YAML 1.1) does: true/false, yes/no and on/off
// in lower, title or upper case, unquoted. A quoted "true" is a string there, so it is not a bool.
func yamlBool(n *yaml.Node) (value, ok bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return false, false
	}
	if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 && n.Tag != "!!bool" {
		return false, false
	}
	if n.Tag != "!!bool" && n.Tag != "!!str" {
		return false, false
	}
	v := n.Value
	if v != strings.ToLower(v) && v != strings.ToUpper(v) && v != strings.ToUpper(v[:1])+strings.ToLower(v[1:]) {
		return false, false
	}
	switch strings.ToLower(v) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	return false, false
}

// describe names a node's kind for a person: "a string", "a list", ...
func describe(n *yaml.Node) string {
	switch {
	case n == nil || n.Tag == "!!null":
		return "empty"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case pyType(n) == "str":
		return "the string " + quote(n.Value)
	}
	return quote(n.Value)
}

func stripBOM(b []byte) []byte { return bytes.TrimPrefix(b, bom) }

func yamlError(err error) string { return strings.TrimPrefix(err.Error(), "yaml: ") }

// safeTag lists the tags that PyYAML's safe_load constructs; on any other (such as !foo or
// !!python/object) it fails, and cloud-init drops the document.
var safeTag = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true, "!!map": true,
	"!!seq": true, "!!binary": true, "!!timestamp": true, "!!set": true, "!!omap": true,
	"!!pairs": true, "!!merge": true,
}

// checkTags reports the first node whose tag safe_load would reject. Aliases are not followed:
// their anchors are visited where they stand.
func checkTags(n *yaml.Node) error {
	if n.Kind != yaml.DocumentNode && n.Kind != yaml.AliasNode && !safeTag[n.Tag] {
		return fmt.Errorf("line %d: tag %s is not one that cloud-init's YAML loader (safe_load) accepts", n.Line, n.Tag)
	}
	for _, c := range n.Content {
		if err := checkTags(c); err != nil {
			return err
		}
	}
	return nil
}
