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
// r's drop-ins (in the order they apply). A marker file or config baked into the image decides
// only when the source is SourceNone.
func (r Result) Toggle() (bool, Source) {
	cfg, _, _ := config.Merge(config.SortDropIns(r.DropIns))
	return Toggle(r, false, cfg)
}
