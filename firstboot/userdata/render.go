package userdata

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
)

// What Render writes and how.
const (
	// ourMergeType is the Merge-Type header of the part that Render adds to MIME user-data: cloud-init
	// then appends its write_files to the operator's instead of replacing them, merges its clearwater
	// key into the operator's, and keeps every other key the operator set.
	ourMergeType = "list(append)+dict(no_replace,recurse_list)+str()"
	// maxEncoded is OpenStack Nova's limit on user_data, which it checks base64-encoded.
	maxEncoded = 65535
	// ContentTypeMultipart and ContentTypeGzip are the other content types Render reports.
	ContentTypeMultipart = "multipart/mixed"
	ContentTypeGzip      = "application/gzip"
)

// Addition is what Render adds to user-data. The toggle and the settings go under the
// cloud-config key clearwater, which the helper reads from the booting instance's own user-data
// at every boot and cloud-init writes nowhere: user-data handed to a build instance leaves
// nothing in the image it becomes, and a snapshot of an instance carries nothing of its toggle.
type Addition struct {
	// ForceIPv6 is the toggle: nil says nothing about it; true or false is clearwater.force_ipv6,
	// which beats everything baked into the image (a marker file, the helper's config).
	ForceIPv6 *bool
	// UpstreamMarker, with ForceIPv6 true, also renders a write_files entry for MarkerPath: for an
	// image without the helper, whose upstream script reads only the marker file. cloud-init
	// writes that file into the instance, so it is not for a build instance.
	UpstreamMarker bool
	// Settings are the helper's settings, rendered under the clearwater key. Settings.ForceIPv6
	// must be nil: the toggle is ForceIPv6.
	Settings config.Partial
}

// Rendered is user-data that Render made, and what the helper reads from it.
type Rendered struct {
	// Data is the user-data, gzip-compressed when asked.
	Data []byte
	// ContentType is Data's type: TypeCloudConfig, ContentTypeMultipart or ContentTypeGzip.
	ContentType string
	// ForceIPv6 and ForceSource are the toggle as the helper reads it from this user-data alone
	// (a marker file or config baked into the image may still decide when ForceSource is
	// SourceNone).
	ForceIPv6   bool
	ForceSource Source
	// Settings is what the clearwater key sets, force_ipv6 included; zero when Render added no key.
	Settings config.Partial
}

// additions is what Render writes, decided from the Addition and the base.
type additions struct {
	marker bool            // a write_files entry for MarkerPath
	key    *config.Partial // what to add under the clearwater key
}

func (a additions) writeFiles() bool { return a.marker }
func (a additions) empty() bool      { return !a.marker && a.key == nil }

// Render adds the toggle and the helper's settings to base, user-data in any format cloud-init
// accepts (empty for none), without dropping a byte of the operator's content: a cloud-config base
// is merged key by key (its comments and write_files kept, ours appended); any other base becomes
// MIME multipart with ours as an extra cloud-config part whose Merge-Type appends to the
// operator's lists. A gzip base is unpacked first; gz compresses the result. The base's own toggle
// or drop-ins that contradict add, and a result over maxEncoded base64-encoded, are errors.
func Render(base []byte, add Addition, gz bool) (r Rendered, err error) {
	defer func() {
		if v := recover(); v != nil { // a bug (or the YAML library) must not take the plugin down
			r, err = Rendered{}, fmt.Errorf("user-data not rendered: internal error: %v", v)
		}
	}()
	if err = checkAddition(add); err != nil {
		return Rendered{}, err
	}
	b, err := readBase(base)
	if err != nil {
		return Rendered{}, err
	}
	ours, err := plan(add, b.view)
	if err != nil {
		return Rendered{}, err
	}
	out := Rendered{ContentType: TypeCloudConfig}
	switch {
	case b.kind == baseEmpty:
		out.Data, err = ours.cloudConfig()
	case b.kind == baseCloudConfig:
		out.Data, err = mergeCloudConfig(b.data, ours)
	case ours.empty():
		out.Data, out.ContentType = b.data, b.typ
	default:
		var part []byte
		if part, err = ours.cloudConfig(); err == nil {
			out.Data, out.ContentType = wrapMIME(b, part), ContentTypeMultipart
		}
	}
	if err != nil {
		return Rendered{}, err
	}
	if err := readBack(&out, add); err != nil {
		return Rendered{}, err
	}
	return finish(out, gz)
}

// checkAddition refuses inputs that cannot mean anything.
func checkAddition(add Addition) error {
	if add.Settings.ForceIPv6 != nil {
		return errors.New("settings must not carry force_ipv6: the toggle is ForceIPv6")
	}
	if add.UpstreamMarker && (add.ForceIPv6 == nil || !*add.ForceIPv6) {
		return errors.New("upstream_marker needs force_ipv6 = true: the marker file can only force IPv6")
	}
	return nil
}

// plan decides what to write, and refuses what the base says against it: a clearwater key whose
// force_ipv6 or setting has another value, or a marker entry with force_ipv6 false (cloud-init
// would still write the marker into the instance).
func plan(add Addition, view Result) (additions, error) {
	var a additions
	p := add.Settings
	if f := add.ForceIPv6; f != nil {
		if view.Force != nil && *view.Force != *f {
			return a, fmt.Errorf("base_user_data sets %s.%s: %t, which contradicts force_ipv6 = %t", configKey, forceKey, *view.Force, *f)
		}
		if view.Marker && !*f {
			return a, fmt.Errorf("base_user_data has a write_files entry for %s, which forces IPv6 and contradicts force_ipv6 = false: remove the entry", MarkerPath)
		}
		a.marker = add.UpstreamMarker && !view.Marker
		if view.Force == nil {
			p.ForceIPv6 = f
		}
	}
	if err := p.Validate(); err != nil {
		return a, err
	}
	theirs := config.Partial{}
	if view.Settings != nil {
		if parsed, err := config.Parse(SettingsName, view.Settings.Data); err == nil {
			theirs = parsed
		}
	}
	for _, k := range config.Keys {
		x, y := p.Value(k), theirs.Value(k)
		switch {
		case x == nil || y == nil:
		case !reflect.DeepEqual(x, y):
			return a, fmt.Errorf("base_user_data sets %s.%s to another value than the datasource's %s", configKey, k, k)
		default:
			p.Unset(k) // the base says it already
		}
	}
	if !reflect.ValueOf(p).IsZero() {
		a.key = &p
	}
	return a, nil
}

// readBack reads the rendered user-data with the helper's own parser, which merges parts as
// cloud-init does, fills in what the helper will see, and makes sure that it is what was asked: a
// base whose write_files or clearwater key keeps ours from being merged in is caught here.
func readBack(out *Rendered, add Addition) error {
	p := Parse(out.Data)
	out.ForceIPv6, out.ForceSource = p.Toggle()
	const why = "the helper would not read it back from the merged user-data: base_user_data's write_files must be a list and its clearwater key a mapping, or cloud-init does not merge the datasource's in"
	if f := add.ForceIPv6; f != nil && (out.ForceIPv6 != *f || out.ForceSource != SourceKey) {
		return fmt.Errorf("force_ipv6 = %t: %s (it reads %t from %s)", *f, why, out.ForceIPv6, out.ForceSource)
	}
	if add.UpstreamMarker && !p.Marker {
		return fmt.Errorf("upstream_marker: %s", why)
	}
	got := config.Partial{}
	if p.Settings != nil {
		var err error
		if got, err = config.Parse(SettingsName, p.Settings.Data); err != nil {
			return fmt.Errorf("settings: %s: %v", why, err)
		}
	}
	got.ForceIPv6 = p.Force
	for _, k := range add.Settings.Set() {
		if !reflect.DeepEqual(got.Value(k), add.Settings.Value(k)) {
			return fmt.Errorf("settings: %s (%s.%s)", why, configKey, k)
		}
	}
	out.Settings = got
	return nil
}

// finish compresses when asked and checks Nova's limit.
func finish(r Rendered, gz bool) (Rendered, error) {
	if gz {
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		w.Write(r.Data) // a bytes.Buffer does not fail
		w.Close()
		r.Data, r.ContentType = b.Bytes(), ContentTypeGzip
	}
	if n := base64.StdEncoding.EncodedLen(len(r.Data)); n > maxEncoded {
		return Rendered{}, fmt.Errorf("user-data is %d bytes, %d base64-encoded: over OpenStack's limit of %d bytes (Nova's user_data); shorten base_user_data or set gzip = true", len(r.Data), n, maxEncoded)
	}
	return r, nil
}
