package netdata

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// novaExample is the reference's example: a dual-stack port, IPv4 by DHCP, IPv6 by SLAAC.
const novaExample = `{"links":[{"id":"tap1a2b3c4d-5e","vif_id":"1a2b3c4d","type":"ovs","mtu":null,"ethernet_mac_address":"fa:16:3e:12:34:56"}],
 "networks":[{"id":"network0","type":"ipv4_dhcp","link":"tap1a2b3c4d-5e","network_id":"n"},
  {"id":"network1","type":"ipv6_slaac","link":"tap1a2b3c4d-5e","ip_address":"2001:db8:1:0:f816:3eff:fe12:3456",
   "netmask":"ffff:ffff:ffff:ffff::","routes":[{"network":"::","netmask":"::","gateway":"2001:db8:1::1"}],
   "network_id":"n","services":[{"type":"dns","address":"2001:db8::53"}]}],
 "services":[{"type":"dns","address":"2001:db8::53"}]}`

const link = `"links":[{"id":"tap1","type":"ovs","ethernet_mac_address":"fa:16:3e:00:00:01"}]`

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name, in   string
		known      bool
		ipv4, ipv6 string
	}{
		{"nova example", novaExample, true, "ipv4_dhcp", "ipv6_slaac"},
		{"empty object", `{}`, false, "no IPv4 network", "no IPv6 network"},
		{"v4 only", `{` + link + `,"networks":[{"type":"ipv4_dhcp"}]}`, true, "ipv4_dhcp", "no IPv6 network"},
		{"v6-only stateful", `{` + link + `,"networks":[{"type":"ipv6_dhcpv6-stateful"}]}`, true, "no IPv4 network", "ipv6_dhcpv6-stateful"},
		{"stateless and static", `{` + link + `,"networks":[{"type":"ipv4"},{"type":"ipv6_dhcpv6-stateless"},{"type":"ipv6"},{"type":"ipv6_dhcp"}]}`,
			true, "ipv4", "ipv6_dhcpv6-stateless, ipv6, ipv6_dhcp"},
		{"port without subnets", `{` + link + `,"networks":[]}`, true, "no IPv4 network", "no IPv6 network"},
		{"links but no networks key", `{` + link + `}`, false, "no IPv4 network", "no IPv6 network"},
		{"unknown types ignored", `{` + link + `,"networks":[{"type":"infiniband"},{"type":"IPV4_DHCP"}]}`, true, "ipv4_dhcp", "no IPv6 network"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse("test", []byte(c.in))
			if err != nil || f.Known != c.known || f.Types(false) != c.ipv4 || f.Types(true) != c.ipv6 {
				t.Errorf("Parse = %+v, %v; want known=%t IPv4 %q IPv6 %q", f, err, c.known, c.ipv4, c.ipv6)
			}
		})
	}
	for _, bad := range []string{"", "null x", `{"networks":{}}`, `[`} {
		if _, err := Parse("cd", []byte(bad)); err == nil || !strings.Contains(err.Error(), "cd: not network_data.json") {
			t.Errorf("Parse(%q) = %v; want an error naming the source", bad, err)
		}
	}
}

// A config drive as Nova writes it (genisoimage -V config-2), found under the root.
func TestFromConfigDrive(t *testing.T) {
	tool, err := exec.LookPath("genisoimage")
	if err != nil {
		t.Skip("genisoimage not installed (make deps)")
	}
	src := t.TempDir()
	dir := filepath.Join(src, "openstack/latest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "network_data.json"), []byte(novaExample), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	iso := filepath.Join(root, "dev/sr0")
	if err := os.MkdirAll(filepath.Dir(iso), 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(tool, "-o", iso, "-ldots", "-allow-lowercase", "-allow-multidot", "-l", "-quiet",
		"-J", "-r", "-V", "config-2", src).CombinedOutput(); err != nil {
		t.Fatalf("genisoimage: %v: %s", err, b)
	}
	if err := os.MkdirAll(filepath.Join(root, "dev/disk/by-label"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/sr0", filepath.Join(root, "dev/disk/by-label/config-2")); err != nil {
		t.Fatal(err)
	}
	f, found, note := FromConfigDrive(root)
	if !found || !f.Known || f.Types(true) != "ipv6_slaac" || !strings.Contains(f.Source, "config drive") {
		t.Errorf("FromConfigDrive = %+v, %t, %q", f, found, note)
	}
	if _, found, note := FromConfigDrive(t.TempDir()); found || note != "" {
		t.Errorf("no config drive: found %t, note %q", found, note)
	}
}

// cloud-init's instance data as its OpenStack data source writes it (22.4: no crawled metadata,
// so ds holds meta_data, network_json and ec2_metadata), found under the root.
func TestFromCloudInit(t *testing.T) {
	record := func(ds string) string {
		return `{"base64_encoded_keys": [], "ds": {"_doc": "EXPERIMENTAL: ...", ` + ds + `},
 "sensitive_keys": ["merged_cfg", "security-credentials", "userdata", "user-data", "user_data", "vendordata", "vendor-data"],
 "v1": {"cloud_name": "openstack", "instance_id": "i-1", "platform": "openstack"}}`
	}
	for _, c := range []struct {
		name, file string
		found      bool
		ipv6, note string
	}{
		{"openstack", record(`"meta_data": {"uuid": "i-1"}, "ec2_metadata": {}, "network_json": ` + novaExample), true, "ipv6_slaac", ""},
		{"v4-only port", record(`"network_json": {` + link + `,"networks":[{"type":"ipv4_dhcp"}]}`), true, "no IPv6 network", ""},
		{"nocloud: no network_json", record(`"meta_data": {"instance-id": "i-1"}`), false, "", ""},
		{"no record", "", false, "", ""},
		{"torn record", `{"ds": {"network_json": {"li`, false, "", "is not JSON"},
		{"bad network_json", record(`"network_json": [1]`), false, "", "not network_data.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			if c.file != "" {
				p := filepath.Join(root, CloudInitPath)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(c.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, found, note := FromCloudInit(root)
			if found != c.found || found && (f.Types(true) != c.ipv6 || !strings.Contains(f.Source, "instance-data.json")) ||
				!strings.Contains(note, c.note) || c.note == "" && note != "" {
				t.Errorf("FromCloudInit = %+v, %t, %q; want found %t, IPv6 %q, a note with %q", f, found, note, c.found, c.ipv6, c.note)
			}
		})
	}
}
