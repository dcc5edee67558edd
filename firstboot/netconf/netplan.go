package netconf

import (
	"fmt"
	"path"

	"gopkg.in/yaml.v3"
)

// NetplanDirs are where netplan reads *.yaml; a file in a later folder shadows one of the same
// name in an earlier folder, and all are read in the order of their names.
var NetplanDirs = []string{"/lib/netplan", "/etc/netplan", "/run/netplan"}

// NetplanFile is the drop-in netconf writes for netplan.
const NetplanFile = "/etc/netplan/" + Name + ".yaml"

// netplanTypes are netplan's device types that take dhcp4, dhcp6 and accept-ra.
var netplanTypes = []string{"ethernets", "bonds", "bridges", "vlans", "wifis"}

// NetplanDevice is the part of a netplan device definition netconf reads and writes.
type NetplanDevice struct {
	DHCP4    bool `yaml:"dhcp4,omitempty"`
	DHCP6    bool `yaml:"dhcp6,omitempty"`
	AcceptRA bool `yaml:"accept-ra,omitempty"`
}

// NetplanDoc is the shape of netconf's netplan drop-in.
type NetplanDoc struct {
	Network struct {
		Version   int                      `yaml:"version"`
		Ethernets map[string]NetplanDevice `yaml:"ethernets,omitempty"`
		Bonds     map[string]NetplanDevice `yaml:"bonds,omitempty"`
		Bridges   map[string]NetplanDevice `yaml:"bridges,omitempty"`
		Vlans     map[string]NetplanDevice `yaml:"vlans,omitempty"`
		Wifis     map[string]NetplanDevice `yaml:"wifis,omitempty"`
	} `yaml:"network"`
}

func (d *NetplanDoc) devices(typ string) *map[string]NetplanDevice {
	n := &d.Network
	return map[string]*map[string]NetplanDevice{"ethernets": &n.Ethernets, "bonds": &n.Bonds,
		"bridges": &n.Bridges, "vlans": &n.Vlans, "wifis": &n.Wifis}[typ]
}

// netplanDef is what netconf reads of the operator's definitions: how they name interfaces.
type netplanDef struct {
	Match *struct {
		Name string `yaml:"name"`
	} `yaml:"match"`
	SetName string `yaml:"set-name"`
}

func writeNetplan(root string, req Request) (Result, bool, error) {
	files := netplanFiles(root)
	if len(files) == 0 {
		return Result{}, false, nil
	}
	res := Result{Stack: Netplan, Path: NetplanFile}
	typ, id, err := netplanID(root, files, req.Interface)
	if err != nil {
		return res, true, err
	}
	var doc NetplanDoc
	if old, err := readFile(root, NetplanFile); err != nil {
		return res, true, err
	} else if err := yaml.Unmarshal(old, &doc); err != nil {
		return res, true, fmt.Errorf("%s: %w", NetplanFile, err)
	}
	doc.Network.Version = 2
	devs := doc.devices(typ)
	if *devs == nil {
		*devs = map[string]NetplanDevice{}
	}
	d := (*devs)[id]
	d.DHCP4, d.DHCP6, d.AcceptRA = d.DHCP4 || req.DHCPv4, d.DHCP6 || req.DHCPv6, d.AcceptRA || req.AcceptRA
	(*devs)[id] = d
	body, err := yaml.Marshal(&doc)
	if err != nil {
		return res, true, err
	}
	// netplan warns about config readable by others: it may hold secrets.
	res.Written, err = writeFile(root, NetplanFile, append([]byte(Header), body...), 0o600)
	return res, true, err
}

// netplanFiles lists the *.yaml netplan reads, by name, later folders shadowing earlier ones.
func netplanFiles(root string) []string {
	byName := map[string]string{}
	var names []string
	for _, dir := range NetplanDirs {
		for _, f := range glob(root, dir, ".yaml") {
			if _, ok := byName[path.Base(f)]; !ok {
				names = append(names, path.Base(f))
			}
			byName[path.Base(f)] = f
		}
	}
	var out []string
	for _, n := range sortedStrings(names) {
		out = append(out, byName[n])
	}
	return out
}

// netplanID finds the device type and ID that define iface in the operator's files (by ID,
// set-name or match.name); an interface netplan does not define yet is an ethernet of its name.
func netplanID(root string, files []string, iface string) (string, string, error) {
	for _, f := range files {
		if path.Base(f) == path.Base(NetplanFile) {
			continue
		}
		data, err := readFile(root, f)
		if err != nil {
			return "", "", err
		}
		var doc struct {
			Network map[string]any `yaml:"network"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return "", "", fmt.Errorf("%s: %w (netplan would refuse it too)", f, err)
		}
		for _, typ := range netplanTypes {
			raw, _ := yaml.Marshal(doc.Network[typ])
			var defs map[string]netplanDef
			if yaml.Unmarshal(raw, &defs) != nil {
				continue
			}
			for _, id := range sortedKeys(defs) {
				if netplanMatches(id, defs[id], iface) {
					return typ, id, nil
				}
			}
		}
	}
	return "ethernets", iface, nil
}

func netplanMatches(id string, d netplanDef, iface string) bool {
	switch {
	case d.SetName != "":
		return d.SetName == iface
	case d.Match != nil:
		return d.Match.Name != "" && globMatch(d.Match.Name, iface)
	}
	return id == iface
}
