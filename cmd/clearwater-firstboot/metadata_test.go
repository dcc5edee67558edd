package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
)

func TestShouldAskMetadata(t *testing.T) {
	nova := t.TempDir()
	p := filepath.Join(nova, "sys/class/dmi/id/product_name")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("OpenStack Nova\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plain := t.TempDir()
	with := func(service string, timeout time.Duration) config.Config {
		c := config.Default()
		c.MetadataService, c.MetadataTimeout = service, timeout
		return c
	}
	for _, c := range []struct {
		name string
		root string
		cfg  config.Config
		want bool
		why  string
	}{
		{"auto on nova", nova, with(config.MetadataAuto, 5*time.Second), true, `auto and SMBIOS product_name is "OpenStack Nova"`},
		{"auto elsewhere", plain, with(config.MetadataAuto, 5*time.Second), false, "auto and not an OpenStack guest"},
		{"always elsewhere", plain, with(config.MetadataAlways, 5*time.Second), true, "metadata_service is always"},
		{"never on nova", nova, with(config.MetadataNever, 5*time.Second), false, "metadata_service is never"},
		{"0s on nova", nova, with(config.MetadataAlways, 0), false, "metadata_timeout is 0s"},
	} {
		ask, why := shouldAskMetadata(c.root, c.cfg)
		if ask != c.want || !strings.Contains(why, c.why) {
			t.Errorf("%s: got %t (%s); want %t (%s)", c.name, ask, why, c.want, c.why)
		}
	}
}
