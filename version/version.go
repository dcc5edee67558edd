// Package version holds the plugin's version, reported by `describe` and
// checked by `packer plugins install`.
package version

import "github.com/hashicorp/packer-plugin-sdk/version"

var (
	// Version is the plugin's semantic version.
	Version = "0.2.0"
	// VersionPrerelease marks a pre-release such as "dev"; set it with
	// -ldflags "-X .../version.VersionPrerelease=dev" for local builds.
	VersionPrerelease = "dev"
	// VersionMetadata is optional build metadata.
	VersionMetadata = ""
	// PluginVersion is what the plugin set reports.
	PluginVersion = version.NewPluginVersion(Version, VersionPrerelease, VersionMetadata)
)
