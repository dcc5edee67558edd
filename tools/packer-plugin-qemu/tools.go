//go:build tools

// Package tools pins packer-plugin-qemu, the peer plugin the suite installs with
// packer plugins install --path (the module proxy refuses go install pkg@version here):
//
//	cd tools/packer-plugin-qemu && go build -o ../../bin/packer-plugin-qemu github.com/hashicorp/packer-plugin-qemu
package tools

import _ "github.com/hashicorp/packer-plugin-qemu"
