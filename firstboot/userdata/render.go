package userdata

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"reflect"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
)

// What Render writes and where.
const (
	// DropInPath is the write_files drop-in that carries the helper's settings. Its name sorts
	// after the usual baked drop-ins, so that per-instance settings win over baked ones.
	DropInPath = config.DropIn + "/90-clearwater-userdata.yaml"
	// ourMergeType is the Merge-Type header of the part that Render adds to MIME user-data: cloud-init
	// then appends its write_files to the operator's instead of replacing them, and keeps every
	// other key the operator set.
	ourMergeType = "list(append)+dict(no_replace,recurse_list)+str()"
	// maxEncoded is OpenStack Nova's limit on user_data, which it checks base64-encoded.
	maxEncoded = 65535
	// ContentTypeMultipart and ContentTypeGzip are the other content types Render reports.
	ContentTypeMultipart = "multipart/mixed"
	ContentTypeGzip      = "application/gzip"
)

// dropInHeader is the comment at the top of the rendered drop-in.
const dropInHeader = "Helper settings from the clearwater-userdata datasource (packer-plugin-clearwater)."

// Addition is what Render adds to user-data.
type Addition struct {
	// ForceIPv6 is the toggle: nil says nothing about it; true renders a write_files entry for
	// MarkerPath (cloud-init then creates upstream's marker too); false sets force_ipv6: false in
	// the drop-in, which beats a baked config but not a marker file baked into the image.
	ForceIPv6 *bool
	// OverrideMarker, with ForceIPv6 false, also renders the key clearwater: {force_ipv6: false},
	// the only user-data form that beats a marker file baked into the image.
	OverrideMarker bool
	// Settings are the helper's settings, rendered as the write_files drop-in DropInPath through
	// config.Render. Settings.ForceIPv6 must be nil: the toggle is ForceIPv6.
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
	// Settings is what the drop-in DropInPath sets (ForceIPv6 included when the toggle is false);
	// zero when Render wrote no drop-in.
	Settings config.Partial
}

// additions is what Render writes, decided from the Addition and the base.
type additions struct {
	marker   bool            // a write_files entry for MarkerPath
	key      *bool           // clearwater: {force_ipv6: *key}
	dropIn   *config.Partial // the drop-in DropInPath
	dropData []byte          // its rendered content
}

func (a additions) writeFiles() bool { return a.marker || a.dropIn != nil }
func (a additions) empty() bool      { return !a.writeFiles() && a.key == nil }

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
	if err := readBack(&out, add, ours); err != nil {
		return Rendered{}, err
	}
	return finish(out, gz)
}

// checkAddition refuses inputs that cannot mean anything.
func checkAddition(add Addition) error {
	if add.Settings.ForceIPv6 != nil {
		return errors.New("settings must not carry force_ipv6: the toggle is ForceIPv6")
	}
	if add.OverrideMarker && (add.ForceIPv6 == nil || *add.ForceIPv6) {
		return errors.New("override_marker needs force_ipv6 = false: it overrides a baked marker file with false")
	}
	return nil
}

// plan decides what to write, and refuses what the base says against it: a clearwater key or a
// marker entry of another value, a drop-in of our name, or a drop-in that applies after ours and
// sets one of our keys to another value.
func plan(add Addition, view Result) (additions, error) {
	var a additions
	if f := add.ForceIPv6; f != nil {
		if view.Force != nil && *view.Force != *f {
			return a, fmt.Errorf("base_user_data sets %s.%s: %t, which contradicts force_ipv6 = %t", configKey, forceKey, *view.Force, *f)
		}
		if view.Marker && !*f {
			return a, fmt.Errorf("base_user_data has a write_files entry for %s, which forces IPv6 and contradicts force_ipv6 = false", MarkerPath)
		}
		a.marker = *f && !view.Marker && view.Force == nil
		if !*f && add.OverrideMarker && view.Force == nil {
			a.key = f
		}
	}
	p := add.Settings
	if f := add.ForceIPv6; f != nil && !*f {
		p.ForceIPv6 = f
	}
	if reflect.ValueOf(p).IsZero() {
		return a, nil
	}
	data, err := config.Render(dropInHeader, p)
	if err != nil {
		return a, err
	}
	if err := checkDropIns(view.DropIns, p); err != nil {
		return a, err
	}
	a.dropIn, a.dropData = &p, data
	return a, nil
}

// checkDropIns refuses base drop-ins that would overwrite ours or undo one of its settings.
func checkDropIns(dropIns []config.Source, ours config.Partial) error {
	name := path.Base(DropInPath)
	for _, s := range dropIns {
		base := path.Base(s.Name)
		if base == name {
			return fmt.Errorf("base_user_data already writes %s: it would be overwritten; rename it or pass its settings to the datasource", s.Name)
		}
		if base < name {
			continue // applies before ours: ours override it, as meant
		}
		theirs, err := config.Parse(s.Name, s.Data)
		if err != nil {
			continue // the helper ignores a bad user-data drop-in (with a warning)
		}
		if key, ok := conflict(ours, theirs); ok {
			return fmt.Errorf("base_user_data writes %s, which applies after %s and sets %s to another value than the datasource's", s.Name, DropInPath, key)
		}
	}
	return nil
}

// conflict names the first key that both set, to different values.
func conflict(a, b config.Partial) (string, bool) {
	for _, k := range config.Keys {
		x, y := a.Value(k), b.Value(k)
		if x != nil && y != nil && !reflect.DeepEqual(x, y) {
			return k, true
		}
	}
	return "", false
}

// readBack reads the rendered user-data with the helper's own parser, which merges parts as
// cloud-init does, fills in what the helper will see, and makes sure that it is what was asked: a
// base whose write_files or clearwater key keeps ours from being merged in is caught here.
func readBack(out *Rendered, add Addition, a additions) error {
	p := Parse(out.Data)
	out.ForceIPv6, out.ForceSource = p.Toggle()
	const why = "the helper would not read it back from the merged user-data: base_user_data's write_files must be a list and its clearwater key a mapping, or cloud-init does not merge the datasource's in"
	if f := add.ForceIPv6; f != nil && out.ForceIPv6 != *f {
		return fmt.Errorf("force_ipv6 = %t: %s (it reads %t from %s)", *f, why, out.ForceIPv6, out.ForceSource)
	}
	if add.OverrideMarker && out.ForceSource != SourceKey {
		return fmt.Errorf("override_marker: %s", why)
	}
	if a.dropIn == nil {
		return nil
	}
	var data []byte
	found := false
	for _, d := range p.DropIns {
		if d.Name == DropInPath {
			data, found = d.Data, true
		}
	}
	got, err := config.Parse(DropInPath, data)
	if !found || err != nil || !reflect.DeepEqual(got, *a.dropIn) {
		return fmt.Errorf("settings: %s", why)
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
