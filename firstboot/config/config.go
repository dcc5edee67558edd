// Package config reads, validates and renders the helper's own settings: /etc/clearwater/firstboot.yaml,
// then /etc/clearwater/firstboot.d/*.yaml in lexical order, a later file overriding a key of an
// earlier one. The provisioner and the datasource render their files through this package, so the
// helper reads back exactly what they wrote.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Where the helper looks for its config, relative to the root.
const (
	File   = "/etc/clearwater/firstboot.yaml"
	DropIn = "/etc/clearwater/firstboot.d"
)

// Accepted values of on_missing_ipv6.
const (
	Fallback = "fallback"
	Fail     = "fail"
)

// Accepted values of metadata_service.
const (
	MetadataAuto   = "auto"   // ask only on a platform that has a metadata service (package platform)
	MetadataAlways = "always" // ask whatever the platform
	MetadataNever  = "never"  // never ask
)

// MaxWait bounds every duration setting, so that no config can stall a boot for long.
const MaxWait = 10 * time.Minute

// Config is the helper's effective settings. Each field but Origin is the setting of the
// same name in Partial, of the value type (time.Duration for Duration).
//
// Adding a setting touches three places: a field here with its default in Default; a field in
// Partial, whose yaml tag is the key (and a check in checks when its type does not say all);
// and the template option in internal/settings.Settings, whose mapstructure tag is the same key
// (then make generate for the docs). Keys, Parse, Validate, Apply, Set and the plugin's options
// all follow from these (TestSettingsAgree holds them together).
type Config struct {
	ForceIPv6        bool
	OnMissingIPv6    string
	Interface        string
	IgnoreInterfaces []string
	Hostname         string
	PublicIP         string
	IPv4Wait         time.Duration
	IPv6Timeout      time.Duration
	ProbeAfter       time.Duration
	ProbeDHCP        bool
	MetadataService  string
	MetadataTimeout  time.Duration

	// Origin maps each key that a file set to the name of the last file that set it.
	Origin map[string]string
}

// Default returns the settings used where no file says otherwise.
func Default() Config {
	return Config{
		OnMissingIPv6:    Fallback,
		IgnoreInterfaces: DefaultIgnoreInterfaces(),
		Hostname:         "cw-aio",
		IPv4Wait:         10 * time.Second,
		IPv6Timeout:      30 * time.Second,
		ProbeAfter:       3 * time.Second,
		ProbeDHCP:        true,
		MetadataService:  MetadataAuto,
		MetadataTimeout:  5 * time.Second,
		Origin:           map[string]string{},
	}
}

// DefaultIgnoreInterfaces returns the interface patterns that never carry Clearwater's address:
// container, bridge and tunnel interfaces.
func DefaultIgnoreInterfaces() []string {
	return []string{"docker*", "br-*", "virbr*", "veth*", "cni*", "flannel*", "cali*", "tun*", "tap*"}
}

// Partial is one file's worth of settings: a nil field is a key the file does not set.
// Its YAML form is the file format; the order of its fields is the documented order of the keys.
type Partial struct {
	ForceIPv6        *bool     `yaml:"force_ipv6,omitempty"`
	OnMissingIPv6    *string   `yaml:"on_missing_ipv6,omitempty"`
	Interface        *string   `yaml:"interface,omitempty"`
	IgnoreInterfaces *[]string `yaml:"ignore_interfaces,omitempty,flow"`
	Hostname         *string   `yaml:"hostname,omitempty"`
	PublicIP         *string   `yaml:"public_ip,omitempty"`
	IPv4Wait         *Duration `yaml:"ipv4_wait,omitempty"`
	IPv6Timeout      *Duration `yaml:"ipv6_timeout,omitempty"`
	ProbeAfter       *Duration `yaml:"probe_after,omitempty"`
	ProbeDHCP        *bool     `yaml:"probe_dhcp,omitempty"`
	MetadataService  *string   `yaml:"metadata_service,omitempty"`
	MetadataTimeout  *Duration `yaml:"metadata_timeout,omitempty"`
}

// Keys lists every key of the file format, in the documented order: Partial's yaml tags.
var Keys = partialKeys()

func partialKeys() []string {
	t := reflect.TypeFor[Partial]()
	keys := make([]string, t.NumField())
	for i := range keys {
		keys[i], _, _ = strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
	}
	return keys
}

// Duration is a time.Duration written in Go syntax ("10s", "1m30s").
type Duration time.Duration

// MarshalYAML writes d in Go syntax.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("want a duration such as 10s or 1m30s")
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration reads a duration setting: Go syntax, from 0 to MaxWait.
func ParseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: want Go syntax such as 10s or 1m30s", s)
	}
	if v < 0 || v > MaxWait {
		return 0, fmt.Errorf("%s is out of range: want 0s to %s", v, MaxWait)
	}
	return v, nil
}

// Error is a problem with one key (or the whole file when Key is "") of one file.
type Error struct {
	File string
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Key, e.Msg)
}

// Parse reads one config file. name is used in errors only. Unknown keys, wrong types and bad
// values are errors that name the file, the key and what is accepted.
func Parse(name string, data []byte) (Partial, error) {
	var p Partial
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return p, &Error{File: name, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		return p, nil // an empty file sets nothing
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return p, &Error{File: name, Msg: "want a mapping of settings (key: value), accepted keys: " + strings.Join(Keys, ", ")}
	}
	fields := p.fields()
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i].Value, m.Content[i+1]
		dst, ok := fields[k]
		if !ok {
			return p, &Error{File: name, Key: k, Msg: "unknown key, accepted keys: " + strings.Join(Keys, ", ")}
		}
		if dst == nil {
			return p, &Error{File: name, Key: k, Msg: "set twice in the same file"}
		}
		if err := v.Decode(dst); err != nil {
			return p, &Error{File: name, Key: k, Msg: decodeHint(err)}
		}
		fields[k] = nil
	}
	if err := p.Validate(); err != nil {
		for _, e := range Errors(err) {
			e.File = name
		}
		return p, err
	}
	return p, nil
}

// Errors lists the *Error values in err, which may join several (Validate's).
func Errors(err error) []*Error {
	if e, ok := err.(*Error); ok {
		return []*Error{e}
	}
	var out []*Error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, one := range j.Unwrap() {
			out = append(out, Errors(one)...)
		}
	}
	return out
}

// fields maps each key to a pointer to the field of p that holds it.
func (p *Partial) fields() map[string]any {
	v := reflect.ValueOf(p).Elem()
	m := make(map[string]any, len(Keys))
	for i, k := range Keys {
		m[k] = v.Field(i).Addr().Interface()
	}
	return m
}

// Value returns the value that p sets for key (a bool, string, []string or Duration), or nil
// when p does not set it or there is no such key.
func (p Partial) Value(key string) any {
	i := slices.Index(Keys, key)
	if i < 0 {
		return nil
	}
	f := reflect.ValueOf(p).Field(i)
	if f.IsNil() {
		return nil
	}
	return f.Elem().Interface()
}

// Put sets key in p to v, checked: a bool, string or []string as the key's type is, and for a
// duration key a string in Go syntax. The error names the key.
func (p *Partial) Put(key string, v any) error {
	i := slices.Index(Keys, key)
	if i < 0 {
		return &Error{Key: key, Msg: "unknown key, accepted keys: " + strings.Join(Keys, ", ")}
	}
	f := reflect.ValueOf(p).Elem().Field(i)
	x := reflect.ValueOf(v)
	switch t := f.Type().Elem(); {
	case v == nil:
		return &Error{Key: key, Msg: "want a value, not nothing"}
	case t == reflect.TypeFor[Duration]() && x.Kind() == reflect.String:
		d, err := ParseDuration(x.String())
		if err != nil {
			return &Error{Key: key, Msg: err.Error()}
		}
		x = reflect.ValueOf(Duration(d))
	case x.Type() != t:
		return &Error{Key: key, Msg: fmt.Sprintf("want a %s, not %T", t, v)}
	case t.Kind() == reflect.Slice:
		x = reflect.ValueOf(slices.Clone(v.([]string)))
		if x.IsNil() {
			x = reflect.ValueOf([]string{})
		}
	}
	ptr := reflect.New(x.Type())
	ptr.Elem().Set(x)
	f.Set(ptr)
	return nil
}

// Unset makes p not set key.
func (p *Partial) Unset(key string) {
	if i := slices.Index(Keys, key); i >= 0 {
		reflect.ValueOf(p).Elem().Field(i).SetZero()
	}
}

// Set lists the keys that p sets, in the documented order.
func (p Partial) Set() []string {
	var keys []string
	for _, k := range Keys {
		if p.Value(k) != nil {
			keys = append(keys, k)
		}
	}
	return keys
}

// decodeHint turns a yaml.v3 decoding error into a message about the value alone.
func decodeHint(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "line ") {
			msg = msg[i+2:]
		}
		return msg
	}
	return err.Error()
}

// Validate checks the value of every key that p sets, and returns every problem (errors.Join),
// each an *Error whose File is empty.
func (p Partial) Validate() error {
	var errs []error
	for _, k := range Keys {
		if v, check := p.Value(k), checks[k]; v != nil && check != nil {
			if msg := check(v); msg != "" {
				errs = append(errs, &Error{Key: k, Msg: msg})
			}
		}
	}
	return errors.Join(errs...)
}

// checks says what is wrong with the value of a key whose type does not say it all ("" for nothing).
var checks = map[string]func(v any) string{
	"on_missing_ipv6":  oneOf(Fallback, Fail),
	"metadata_service": oneOf(MetadataAuto, MetadataAlways, MetadataNever),
	"interface": func(v any) string {
		if s := v.(string); s != "" && !validIfName(s) {
			return fmt.Sprintf("%q is not an interface name (1 to 15 characters, no '/', ':' or white space)", s)
		}
		return ""
	},
	"ignore_interfaces": func(v any) string {
		for _, pat := range v.([]string) {
			if _, err := path.Match(pat, ""); err != nil || pat == "" || strings.ContainsAny(pat, "/ \t") {
				return fmt.Sprintf("%q is not a valid pattern (shell glob such as docker* or br-*)", pat)
			}
		}
		return ""
	},
	"hostname": func(v any) string {
		if s := v.(string); !ValidHostname(s) {
			return fmt.Sprintf("%q is not a valid host name (letters, digits and '-', dot-separated labels of 1 to 63 characters)", s)
		}
		return ""
	},
	"public_ip": func(v any) string {
		s := v.(string)
		if s == "" {
			return ""
		}
		if a, err := netip.ParseAddr(s); err != nil || a.Zone() != "" || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() {
			return fmt.Sprintf("%q is not a usable IPv4 or IPv6 address (or leave it empty for the chosen address)", s)
		}
		return ""
	},
}

// oneOf accepts only the values given.
func oneOf(values ...string) func(v any) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strconv.Quote(v)
	}
	want := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	return func(v any) string {
		if !slices.Contains(values, v.(string)) {
			return fmt.Sprintf("%q is not accepted: want %s", v, want)
		}
		return ""
	}
}

func validIfName(s string) bool {
	return len(s) <= 15 && s != "." && s != ".." && !strings.ContainsAny(s, "/: \t\n")
}

// ValidHostname reports whether s is a host name that Clearwater's SIP URIs can carry.
func ValidHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// Apply sets every key that p sets, recording name as its origin.
func (c *Config) Apply(name string, p Partial) {
	cv := reflect.ValueOf(c).Elem()
	for i, k := range Keys {
		v := p.Value(k)
		if v == nil {
			continue
		}
		switch x := v.(type) {
		case Duration:
			v = time.Duration(x)
		case []string:
			v = slices.Clone(x)
		}
		cv.FieldByName(reflect.TypeFor[Partial]().Field(i).Name).Set(reflect.ValueOf(v))
		c.Origin[k] = name
	}
}

// Render writes p in the file format, after a comment header. It validates p first, so that
// nothing can render a file that the helper would refuse.
func Render(header string, p Partial) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		if header != "" {
			b.WriteString("# " + line + "\n")
		}
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	out := b.Bytes()
	if bytes.HasSuffix(out, []byte("{}\n")) { // an empty Partial
		out = out[:len(out)-3]
	}
	return out, nil
}

// Source is one config file: its name (used in messages) and content.
type Source struct {
	Name string
	Data []byte
	// Soft marks a file that arrived through user-data: a problem in it is a warning and the file
	// is ignored, so that an instance's user-data never bricks its boot.
	Soft bool
}

// Merge applies the sources over the defaults in the order given. A problem in a soft source is
// returned as a warning and that source is skipped; a problem in any other is the error.
func Merge(sources []Source) (Config, []string, error) {
	c := Default()
	var warnings []string
	for _, s := range sources {
		p, err := Parse(s.Name, s.Data)
		if err != nil {
			if s.Soft {
				warnings = append(warnings, "ignored config from user-data: "+err.Error())
				continue
			}
			return c, warnings, err
		}
		c.Apply(s.Name, p)
	}
	return c, warnings, nil
}

// SortDropIns orders drop-in sources by base name, the order in which they apply. When a name
// appears twice, the later one in the input replaces the earlier (a user-data copy of a file
// replaces the copy on disk).
func SortDropIns(in []Source) []Source {
	byName := map[string]Source{}
	for _, s := range in {
		byName[path.Base(s.Name)] = s
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Source, 0, len(names))
	for _, n := range names {
		out = append(out, byName[n])
	}
	return out
}
