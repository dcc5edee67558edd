// Package buildtags names the Go build tags the helper binary is built with, for every place that
// builds it (the GNUmakefile's HELPER_TAGS, the provisioner's go:generate, the size test). It has
// no other code, so that a build tool on any OS can import it.
package buildtags

// Helper are the helper's tags: its metadata client speaks plain HTTP/1.1 only, so net/http's
// HTTP/2 support (about 400 KB of the binary) is left out.
const Helper = "nethttpomithttp2"
