// Package release tests the release end to end, offline: GoReleaser (pinned in tools/goreleaser)
// releases a tagged clean copy of this tree for linux/amd64, a fake GitHub on loopback serves the
// assets, and the pinned packer (bin/packer) installs the plugin with `packer init`, validates a
// template and builds with it, baking a helper that reports the release's version.
//
// The install and validate steps need bin/packer (`make packer`); the build needs root and the
// builder's host tools. Without them the test skips, unless CI=true, where it fails. Run it with:
//
//	go test -v -count=1 ./test/release/
package release
