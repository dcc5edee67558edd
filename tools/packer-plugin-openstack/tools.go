//go:build tools

// Package tools pins packer-plugin-openstack, the peer plugin the suite installs with
// packer plugins install --path (the module proxy refuses go install pkg@version here):
//
//	cd tools/packer-plugin-openstack && go build -o ../../bin/packer-plugin-openstack github.com/hashicorp/packer-plugin-openstack
package tools

import _ "github.com/hashicorp/packer-plugin-openstack"
