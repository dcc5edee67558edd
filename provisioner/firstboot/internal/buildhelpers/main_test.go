package main

import (
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/version"
)

func TestHelperVersion(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"", version.PluginVersion.String(), ""},
		{"0.2.0", "0.2.0", ""},
		{"0.2.1-dev", "0.2.1-dev", ""},
		{"v0.2.0", "", "without the leading v"},
		{"{{ .Version }}", "", "not a semantic version"},
	} {
		got, err := helperVersion(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "CLEARWATER_VERSION") {
				t.Errorf("helperVersion(%q) = %q, %v; want an error naming CLEARWATER_VERSION with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("helperVersion(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
