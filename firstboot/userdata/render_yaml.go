package userdata

import (
	"bytes"
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
)

// ourHeader opens the cloud-config that Render writes on its own.
const ourHeader = "#cloud-config\n# clearwater force_ipv6 toggle and helper settings, from the clearwater-userdata datasource (packer-plugin-clearwater).\n"

// cloudConfig is our additions as a cloud-config document of their own.
func (a additions) cloudConfig() ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	if a.writeFiles() {
		root.Content = append(root.Content, strNode("write_files"), &yaml.Node{Kind: yaml.SequenceNode, Content: a.fileNodes()})
	}
	if a.key != nil {
		key, err := a.keyNode()
		if err != nil {
			return nil, err
		}
		root.Content = append(root.Content, strNode(configKey), key)
	}
	if len(root.Content) == 0 {
		return []byte(ourHeader + "{}\n"), nil // an empty mapping: cloud-init's schema wants one
	}
	body, err := encodeYAML(root)
	if err != nil {
		return nil, err
	}
	return append([]byte(ourHeader), body...), nil
}

// fileNodes are our write_files entries.
func (a additions) fileNodes() []*yaml.Node {
	var entries []*yaml.Node
	if a.marker {
		entries = append(entries, mapNode("path", strNode(MarkerPath), "content", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "", Style: yaml.DoubleQuotedStyle}))
	}
	return entries
}

// keyNode is what we add under the clearwater key, written as the helper's config file writes it.
func (a additions) keyNode() (*yaml.Node, error) {
	data, err := config.Render("", *a.key)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	return docRoot(&doc), nil
}

func strNode(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// mapNode builds a mapping from alternating key strings and value nodes.
func mapNode(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, strNode(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return m
}

func encodeYAML(n *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// mergeCloudConfig adds ours to the operator's cloud-config by editing its YAML node tree, so that
// its keys, order, styles and (where yaml.v3 keeps them) comments stay: our write_files entries are
// appended to its write_files, and our clearwater key is added, or our force_ipv6 added into its.
// A document with no content (comments only) keeps every byte, ours appended after it.
func mergeCloudConfig(data []byte, a additions) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("base_user_data is #cloud-config but not valid YAML: %s", yamlError(err))
	}
	root := docRoot(&doc)
	if root == nil || root.Tag == "!!null" {
		if a.empty() {
			return data, nil
		}
		ours, err := a.cloudConfig()
		if err != nil {
			return nil, err
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			data = append(data[:len(data):len(data)], '\n')
		}
		return append(data, bytes.TrimPrefix(ours, []byte("#cloud-config\n"))...), nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, errors.New("base_user_data is #cloud-config but not a YAML mapping (key: value)")
	}
	if a.writeFiles() {
		if err := appendTo(root, "write_files", a.fileNodes()); err != nil {
			return nil, err
		}
	}
	if a.key != nil {
		if err := addKey(root, a); err != nil {
			return nil, err
		}
	}
	out, err := encodeYAML(&doc)
	if err != nil {
		return nil, fmt.Errorf("base_user_data: cannot write the merged cloud-config: %v", err)
	}
	if sniff(out) != TypeCloudConfig { // the header was not a comment that yaml.v3 kept in front
		out = append([]byte("#cloud-config\n"), out...)
	}
	return out, nil
}

// ownValue returns the node of the last own occurrence of key in m (the one that counts), and
// whether the effective value instead comes from a YAML merge key.
func ownValue(m *yaml.Node, key string) (own *yaml.Node, merged bool) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Tag != "!!merge" && k.Value == key {
			own = m.Content[i+1]
		}
	}
	if own == nil {
		for _, kv := range pairs(m) {
			merged = merged || kv.key == key
		}
	}
	return own, merged
}

// appendTo appends entries to the list at key, creating it when absent or empty.
func appendTo(root *yaml.Node, key string, entries []*yaml.Node) error {
	own, merged := ownValue(root, key)
	switch {
	case merged:
		return fmt.Errorf("base_user_data's %s comes from a YAML merge key (<<): Render cannot append to it without changing the anchor; write it as a plain key", key)
	case own == nil:
		root.Content = append(root.Content, strNode(key), &yaml.Node{Kind: yaml.SequenceNode, Content: entries})
	case own.Kind == yaml.AliasNode:
		return fmt.Errorf("base_user_data's %s is a YAML alias (*name): Render cannot append to it without changing the anchor; write the list out", key)
	case own.Kind == yaml.ScalarNode && own.Tag == "!!null":
		*own = yaml.Node{Kind: yaml.SequenceNode, Content: entries, HeadComment: own.HeadComment, LineComment: own.LineComment, FootComment: own.FootComment}
	case own.Kind == yaml.SequenceNode:
		own.Content = append(own.Content, entries...)
	default:
		return fmt.Errorf("base_user_data's %s is %s, not a list: cloud-init would reject it", key, describe(own))
	}
	return nil
}

// addKey adds our settings under the clearwater key, adding the key or its fields. The base's
// own values were already checked (a contradiction is an error, an agreement writes nothing).
func addKey(root *yaml.Node, a additions) error {
	ours, err := a.keyNode()
	if err != nil {
		return err
	}
	own, merged := ownValue(root, configKey)
	switch {
	case merged:
		return fmt.Errorf("base_user_data's %s comes from a YAML merge key (<<): write it as a plain key", configKey)
	case own == nil:
		root.Content = append(root.Content, strNode(configKey), ours)
	case own.Kind == yaml.MappingNode:
		own.Content = append(own.Content, ours.Content...)
	default:
		return fmt.Errorf("base_user_data's %s is %s, not a mapping such as {%s: false}", configKey, describe(own), forceKey)
	}
	return nil
}
