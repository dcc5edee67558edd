package neutronlab

import (
	"encoding/json"
	"fmt"
	"slices"
)

// OpenStackVersions are the dated metadata versions Nova serves (nova/api/metadata/base.py),
// oldest first; "latest" follows them.
var OpenStackVersions = []string{"2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30",
	"2016-10-06", "2017-02-22", "2018-08-27", "2020-10-14", "2025-04-04"}

// EC2Versions are the EC2 metadata versions Nova serves at /; the config drive keeps only the
// last one (and latest).
var EC2Versions = []string{"1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10",
	"2007-12-15", "2008-02-01", "2008-09-01", "2009-04-04"}

// openStackFiles lists what /openstack/<version>/ holds, as Nova's handler does: user_data only
// when the instance has some, the others from the version that added them.
func openStackFiles(version string, hasUserData bool) []string {
	after := func(v string) bool { return version == "latest" || version >= v }
	files := []string{"meta_data.json"}
	if hasUserData {
		files = append(files, "user_data")
	}
	files = append(files, "password")
	if after("2013-10-17") {
		files = append(files, "vendor_data.json")
	}
	if after("2015-10-15") {
		files = append(files, "network_data.json")
	}
	if after("2016-10-06") {
		files = append(files, "vendor_data2.json")
	}
	return files
}

// knownVersion reports whether v is latest or one of OpenStackVersions.
func knownVersion(v string) bool { return v == "latest" || slices.Contains(OpenStackVersions, v) }

// Hostname is the instance's name; Nova's hostname is <name>.novalocal.
const Hostname = "cw-aio-lab"

// MetaData is meta_data.json: the keys Nova always writes, and the versioned ones of latest.
func MetaData(s Spec) []byte {
	return mustJSON(map[string]any{
		"uuid": s.InstanceUUID(), "hostname": Hostname + ".novalocal", "name": Hostname,
		"launch_index": 0, "availability_zone": "nova", "meta": map[string]string{},
		"random_seed": "bGFiIHJhbmRvbSBzZWVk", "project_id": "7e57000000004000800000000000abcd",
		"devices": []any{}, "dedicated_cpus": []any{},
	})
}

// EC2MetaData is the config drive's ec2/<version>/meta-data.json.
func EC2MetaData(s Spec) []byte {
	m := map[string]any{"ami-id": "ami-00000001", "ami-launch-index": 0, "hostname": Hostname + ".novalocal",
		"instance-id": "i-00000001", "instance-type": "m1.large", "local-hostname": Hostname + ".novalocal",
		"placement": map[string]string{"availability-zone": "nova"}, "reservation-id": "r-lab00001",
		"security-groups": []string{"default"}}
	if s.IPv4 {
		m["local-ipv4"] = s.GuestIPv4().String()
	}
	return mustJSON(m)
}

// NetworkData is network_data.json for the instance's port (nova/virt/netutils.py): a DHCP IPv4
// subnet is ipv4_dhcp with no address; the IPv6 subnet is ipv6_<mode> with its address, netmask,
// routes and services; the link's MTU is null because DHCP is on. With EmptyNetworkData it is
// {}, as Nova serves it without network info.
func NetworkData(s Spec) []byte {
	if s.EmptyNetworkData {
		return []byte("{}")
	}
	link := devName("tap", s.portID())
	type obj = map[string]any
	var networks []obj
	if s.IPv4 {
		networks = append(networks, obj{"id": "network0", "type": "ipv4_dhcp", "link": link, "network_id": s.networkID()})
	}
	var services []obj
	if s.IPv6 != NoIPv6 {
		services = []obj{{"type": "dns", "address": DNS6.String()}}
		n := obj{"id": fmt.Sprintf("network%d", len(networks)), "type": "ipv6_" + string(s.IPv6), "link": link,
			"ip_address": s.GuestIPv6().String(), "netmask": "ffff:ffff:ffff:ffff::",
			"routes":     []obj{{"network": "::", "netmask": "::", "gateway": s.Gateway6().String()}},
			"network_id": s.networkID(), "services": services}
		if s.Isolated {
			n["routes"] = []obj{}
		}
		networks = append(networks, n)
	}
	return mustJSON(obj{
		"links": []obj{{"id": link, "vif_id": s.portID(), "type": "ovs", "mtu": nil,
			"ethernet_mac_address": s.MAC().String()}},
		"networks": networks, "services": orEmpty(services),
	})
}

// VendorData is vendor_data.json: {} or, with Spec.VendorData, {"cloud-init": <it>}, the key
// whose string cloud-init takes as its vendor-data.
func VendorData(s Spec) []byte {
	if s.VendorData == nil {
		return []byte("{}")
	}
	return mustJSON(map[string]string{"cloud-init": string(s.VendorData)})
}

func orEmpty[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of strings, numbers and slices: cannot fail
	}
	return b
}
