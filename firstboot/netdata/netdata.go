// Package netdata reads OpenStack's network_data.json (from a config drive, cloud-init's record
// of it, or the metadata service) for the one thing the helper needs from it: which address families the instance's
// ports have, so that the wait for addresses can stop waiting for a family that is not coming.
package netdata

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/seedfs"
)

// ConfigDrivePath is where a config drive holds network_data.json (Nova writes it from the
// 2015-10-15 version on).
const ConfigDrivePath = "openstack/latest/network_data.json"

// CloudInitPath is where cloud-init records, for this boot, what its data source read. Its
// OpenStack and ConfigDrive sources keep network_data.json there as ds.network_json.
const CloudInitPath = "/run/cloud-init/instance-data.json"

// Families is what network_data.json says about the families of the instance's ports.
type Families struct {
	// Known is false when the file says nothing about networks ({} is what Nova serves without
	// network info): then the wait behaves as if there were no file.
	Known bool
	// IPv4 and IPv6 list the network types of each family, such as ipv4_dhcp or ipv6_slaac.
	IPv4, IPv6 []string
	// Source says where the file came from.
	Source string
}

// Has reports whether a port has a network of the family.
func (f Families) Has(ipv6 bool) bool {
	if ipv6 {
		return len(f.IPv6) > 0
	}
	return len(f.IPv4) > 0
}

// Types names the family's network types for a person: "ipv6_slaac" or "no IPv6 network".
func (f Families) Types(ipv6 bool) string {
	types, family := f.IPv4, "IPv4"
	if ipv6 {
		types, family = f.IPv6, "IPv6"
	}
	if len(types) == 0 {
		return "no " + family + " network"
	}
	return strings.Join(types, ", ")
}

// doc is the part of network_data.json read here.
type doc struct {
	Links    []json.RawMessage `json:"links"`
	Networks *[]struct {
		Type string `json:"type"`
	} `json:"networks"`
}

// Parse reads network_data.json. The networks' types tell the families: ipv4 and ipv4_dhcp;
// ipv6, ipv6_dhcp, ipv6_slaac, ipv6_dhcpv6-stateful and ipv6_dhcpv6-stateless (Nova emits the
// last two though its schema lists only the first three). A file without links or without a
// networks list is not Known.
func Parse(source string, data []byte) (Families, error) {
	var d doc
	if err := json.Unmarshal(data, &d); err != nil {
		return Families{Source: source}, fmt.Errorf("%s: not network_data.json: %w", source, err)
	}
	f := Families{Source: source, Known: len(d.Links) > 0 && d.Networks != nil}
	if d.Networks == nil {
		return f, nil
	}
	for _, n := range *d.Networks {
		t := strings.ToLower(n.Type)
		switch {
		case t == "ipv4" || strings.HasPrefix(t, "ipv4_"):
			f.IPv4 = appendNew(f.IPv4, t)
		case t == "ipv6" || strings.HasPrefix(t, "ipv6_"):
			f.IPv6 = appendNew(f.IPv6, t)
		}
	}
	return f, nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// FromConfigDrive reads network_data.json from the config drive under root. found is false when
// there is no config drive or no file on it; note says what was seen, for a person.
func FromConfigDrive(root string) (f Families, found bool, note string) {
	dev, err := seedfs.FindByLabel(root, seedfs.ConfigDriveLabel)
	if err != nil {
		return Families{}, false, ""
	}
	sfs, err := seedfs.OpenPath(dev)
	if err != nil {
		return Families{}, false, fmt.Sprintf("network_data.json: the config drive %s cannot be read: %v", dev, err)
	}
	defer sfs.Close()
	data, err := sfs.ReadFile(ConfigDrivePath)
	if errors.Is(err, fs.ErrNotExist) {
		return Families{}, false, "network_data.json: none on the config drive " + dev
	}
	if err != nil {
		return Families{}, false, fmt.Sprintf("network_data.json on the config drive %s: %v", dev, err)
	}
	f, err = Parse("config drive "+dev+":"+ConfigDrivePath, data)
	if err != nil {
		return f, false, "network_data.json: " + err.Error()
	}
	return f, true, ""
}

// FromCloudInit reads network_data.json from cloud-init's instance data under root: where the
// helper runs after cloud-init, which found the user-data in the metadata service, the helper
// does not ask the service itself, and this is what the service said. found is false when there
// is no such record (cloud-init has not run this boot, or its data source is not OpenStack's);
// note says what went wrong, for a person.
func FromCloudInit(root string) (f Families, found bool, note string) {
	data, err := rootfs.ReadFileIn(root, CloudInitPath)
	if errors.Is(err, fs.ErrNotExist) {
		return Families{}, false, ""
	}
	if err != nil {
		return Families{}, false, "network_data.json: " + err.Error()
	}
	var v struct {
		DS struct {
			NetworkJSON json.RawMessage `json:"network_json"`
		} `json:"ds"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return Families{}, false, fmt.Sprintf("network_data.json: cloud-init's %s is not JSON: %v", CloudInitPath, err)
	}
	if v.DS.NetworkJSON == nil {
		return Families{}, false, ""
	}
	f, err = Parse("cloud-init's "+CloudInitPath+" (ds.network_json)", v.DS.NetworkJSON)
	if err != nil {
		return f, false, "network_data.json: " + err.Error()
	}
	return f, true, ""
}

// Summary says what f tells, for the status.
func (f Families) Summary() string {
	if !f.Known {
		return "network_data.json from " + f.Source + " describes no network: not used"
	}
	return fmt.Sprintf("network_data.json from %s: IPv4 %s; IPv6 %s", f.Source, f.Types(false), f.Types(true))
}
