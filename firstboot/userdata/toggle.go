package userdata

import "github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"

// Source is where the toggle came from. Its values are the helper's force_source (status JSON)
// and the datasource's: they are a contract and never change.
type Source string

// Every Source, highest precedence first.
const (
	SourceKey        Source = "user-data:clearwater"  // the cloud-config key clearwater: {force_ipv6: bool}
	SourceWriteFiles Source = "user-data:write_files" // a write_files entry for MarkerPath
	SourceMarker     Source = "marker"                // upstream's marker file, MarkerPath, in the image
	SourceConfig     Source = "config"                // force_ipv6 in the helper's config (baked or user-data drop-ins)
	SourceNone       Source = "none"                  // nothing said: not forced
)

// Description says what s is, for a person.
func (s Source) Description() string {
	switch s {
	case SourceKey:
		return "the user-data key " + configKey + "." + forceKey
	case SourceWriteFiles:
		return "a user-data write_files entry for " + MarkerPath
	case SourceMarker:
		return "the marker file " + MarkerPath
	case SourceConfig:
		return "the helper's config (" + forceKey + ")"
	}
	return "the default"
}

// Toggle applies the documented precedence: the user-data (its clearwater key, then a write_files
// marker), upstream's marker file (marker: it exists in the image), the helper's config cfg (baked,
// then user-data drop-ins), the default. It is the one place that decides it, for the helper and
// the datasource alike.
func Toggle(ud Result, marker bool, cfg config.Config) (bool, Source) {
	switch {
	case ud.Force != nil:
		return *ud.Force, SourceKey
	case ud.Marker:
		return true, SourceWriteFiles
	case marker:
		return true, SourceMarker
	case cfg.Origin[forceKey] != "":
		return cfg.ForceIPv6, SourceConfig
	}
	return false, SourceNone
}

// Toggle is the toggle that r alone says: Toggle with no marker file and no baked config, only
// r's drop-ins and settings (in the order they apply). A marker file or config baked into the
// image decides only when the source is SourceNone.
func (r Result) Toggle() (bool, Source) {
	cfg, _, _ := config.Merge(r.configSources())
	return Toggle(r, false, cfg)
}

// Config is what r adds to the helper's config: its write_files drop-ins, and the clearwater key's
// settings, which apply after every drop-in.
func (r Result) Config() config.Extra {
	var last []config.Source
	if r.Settings != nil {
		last = append(last, *r.Settings)
	}
	return config.Extra{DropIns: r.DropIns, Last: last}
}

// configSources are r's config sources in the order they apply.
func (r Result) configSources() []config.Source {
	x := r.Config()
	return append(config.SortDropIns(x.DropIns), x.Last...)
}

// Writes lists the files of the helper's toggle and config that cloud-init writes from r's
// write_files (MarkerPath, drop-ins), by their cleaned paths, in order.
func (r Result) Writes() []string {
	var out []string
	if r.Marker {
		out = append(out, MarkerPath)
	}
	for _, d := range r.DropIns {
		out = append(out, d.Name)
	}
	return out
}
