//go:build tools

// Package tools pins GoReleaser, which builds the release (see .goreleaser.yml).
// Build it with `make goreleaser` (or `cd tools/goreleaser && go build -o ../../bin/goreleaser github.com/goreleaser/goreleaser/v2`).
package tools

import _ "github.com/goreleaser/goreleaser/v2"
