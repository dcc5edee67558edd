//go:build tools

// Package tools pins the packer binary that the tests and the example drive.
// Build it with `make packer` (or `cd tools/packer && go build -o ../../bin/packer github.com/hashicorp/packer`).
package tools

import _ "github.com/hashicorp/packer"
