// Package discover finds an instance's user-data on disk, as cloud-init would: the --user-data
// flag's file, a config drive, a NoCloud seed (read without mounting, package seedfs), or
// cloud-init's own copy when it belongs to this instance. It returns bytes; package userdata
// reads them.
package discover

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/seedfs"
)

// Kinds of Found.
const (
	KindFlag        = "flag"
	KindConfigDrive = "config-drive"
	KindNoCloud     = "nocloud"
	KindCloudInit   = "cloud-init"
)

// Where the user-data and the instance ids live: on seed filesystems (relative to their root)
// and under the helper's root.
const (
	configDriveUserData = "openstack/latest/user_data"
	configDriveMetaData = "openstack/latest/meta_data.json"
	noCloudUserData     = "user-data"
	noCloudMetaData     = "meta-data"

	cloudInitCopyPath   = "/var/lib/cloud/instance/user-data.txt"
	cloudInitInstances  = "/var/lib/cloud/instances"
	cloudInitRecord     = "user-data.txt"
	cloudInitInstanceID = "/var/lib/cloud/data/instance-id"
	instanceDataJSON    = "/run/cloud-init/instance-data.json"
	dmiProductUUID      = "/sys/class/dmi/id/product_uuid"
)

// noCloudSeedDirs are the NoCloud seed folders under the root, in the order cloud-init reads them.
var noCloudSeedDirs = []string{"/var/lib/cloud/seed/nocloud", "/var/lib/cloud/seed/nocloud-net"}

// Found is a user-data blob and where it came from.
type Found struct {
	// Kind is KindFlag, KindConfigDrive, KindNoCloud or KindCloudInit.
	Kind string
	// Path is the file read; on a seed filesystem, the device (or image) and the file inside it
	// joined by ":", as in "/dev/sr0:openstack/latest/user_data".
	Path string
	// Data is the user-data, as read (userdata.Parse reads it).
	Data []byte
	// Instance is the id of the instance the user-data belongs to, where Recorded found it.
	Instance string
}

// UserData finds the user-data, the first found winning:
//
//  1. flag, when non-empty: a literal path (not under root). If it cannot be read, Discover
//     returns found == false with src.Kind == KindFlag and tries nothing else, so that a
//     mistyped --user-data is an error for the caller rather than a silent fallback.
//  2. A config drive: the filesystem labelled config-2 (any case), file openstack/latest/user_data.
//  3. A NoCloud seed: the filesystem labelled cidata (any case), file user-data; then
//     root/var/lib/cloud/seed/nocloud/user-data and root/var/lib/cloud/seed/nocloud-net/user-data.
//  4. cloud-init's copy, root/var/lib/cloud/instance/user-data.txt, only when the instance it
//     belongs to (root/var/lib/cloud/data/instance-id, else the folder the instance link names)
//     is known to be the current one. The current instance id is the one that a seed found on
//     this boot states (config drive meta_data.json "uuid", NoCloud meta-data "instance-id");
//     else cloud-init's record for this boot, root/run/cloud-init/instance-data.json
//     "v1.instance_id" (/run does not outlive a boot); else the SMBIOS system UUID,
//     root/sys/class/dmi/id/product_uuid, which is the instance uuid under OpenStack Nova
//     (elsewhere it matches no instance id, so the copy is then not used). Ids compare
//     without case. With no current id known, the copy is not used.
//
// Seed filesystems are read without mounting (package seedfs). Every file read is bounded by
// rootfs.MaxFileSize. The notes say what was looked at and why each source was, or was not, used.
func UserData(root, flag string) (src Found, found bool, notes []string) {
	d := &discovery{root: root}
	if flag != "" {
		data, err := rootfs.ReadPath(flag)
		err = unwrapPath(err)
		if err != nil {
			d.note("--user-data %s: %v: no other source tried", flag, err)
			return Found{Kind: KindFlag, Path: flag}, false, d.notes
		}
		d.note("user-data from --user-data %s (%d bytes)", flag, len(data))
		return Found{Kind: KindFlag, Path: flag, Data: data}, true, d.notes
	}
	for _, try := range []func() (Found, bool){d.configDrive, d.noCloudDisk, d.noCloudDirs, d.cloudInitCopy} {
		if s, ok := try(); ok {
			return s, true, d.notes
		}
	}
	d.note("no user-data found")
	return Found{}, false, d.notes
}

// discovery carries what one UserData call learns along the way: the instance ids that the seeds
// state, which tell whether cloud-init's copy is current.
type discovery struct {
	root  string
	notes []string
	ids   []idClaim
}

type idClaim struct{ id, from string }

func (d *discovery) note(format string, a ...any) {
	d.notes = append(d.notes, fmt.Sprintf(format, a...))
}

func (d *discovery) under(p string) string { return filepath.Join(d.root, filepath.FromSlash(p)) }

func (d *discovery) configDrive() (Found, bool) {
	return d.seedDisk(KindConfigDrive, seedfs.ConfigDriveLabel, configDriveUserData, configDriveMetaData, configDriveID)
}

func (d *discovery) noCloudDisk() (Found, bool) {
	return d.seedDisk(KindNoCloud, seedfs.NoCloudLabel, noCloudUserData, noCloudMetaData, noCloudID)
}

// seedDisk reads user-data (and, for the instance id, meta-data) from the filesystem labelled
// label, in either case.
func (d *discovery) seedDisk(kind, label, userData, metaData string, id func([]byte) (string, error)) (Found, bool) {
	dev, err := seedfs.FindByLabel(d.root, label) // any case: config-2 or CONFIG-2, cidata or CIDATA
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			d.note("%s: no filesystem labelled %s", kind, label)
		} else {
			d.note("%s: looking for the label %s: %v", kind, label, err)
		}
		return Found{}, false
	}
	sfs, err := seedfs.OpenPath(dev)
	if err != nil {
		d.note("%s: %s is labelled %s but cannot be read: %v", kind, dev, label, err)
		return Found{}, false
	}
	defer sfs.Close()
	d.claimID(kind, dev+":"+metaData, func() ([]byte, error) { return sfs.ReadFile(metaData) }, id)
	data, err := sfs.ReadFile(userData)
	if err != nil {
		d.note("%s: %s has no readable %s: %v", kind, dev, userData, unwrapPath(err))
		return Found{}, false
	}
	p := dev + ":" + userData
	d.note("user-data from the %s %s (%d bytes)", kind, p, len(data))
	return Found{Kind: kind, Path: p, Data: data}, true
}

func (d *discovery) noCloudDirs() (Found, bool) {
	for _, dir := range noCloudSeedDirs {
		meta := path.Join(dir, noCloudMetaData)
		d.claimID(KindNoCloud, d.under(meta), func() ([]byte, error) { return d.read(meta) }, noCloudID)
		p := d.under(path.Join(dir, noCloudUserData))
		data, err := d.read(path.Join(dir, noCloudUserData))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				d.note("nocloud: no seed %s", p)
			} else {
				d.note("nocloud: seed %s not used: %v", p, err)
			}
			continue
		}
		d.note("user-data from the NoCloud seed %s (%d bytes)", p, len(data))
		return Found{Kind: KindNoCloud, Path: p, Data: data}, true
	}
	return Found{}, false
}

// claimID records the instance id that a seed's meta-data states, if it has one.
func (d *discovery) claimID(kind, where string, read func() ([]byte, error), id func([]byte) (string, error)) {
	data, err := read()
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		var v string
		if v, err = id(data); err == nil {
			d.ids = append(d.ids, idClaim{id: v, from: where})
			return
		}
	}
	d.note("%s: %s gives no instance id: %v", kind, where, unwrapPath(err))
}

// cloudInitCopy reads cloud-init's copy of the user-data when it belongs to the current instance.
func (d *discovery) cloudInitCopy() (Found, bool) {
	p := d.copyPath()
	if _, err := rootfs.StatIn(d.root, cloudInitCopyPath); err != nil {
		d.note("cloud-init: no copy at %s", p)
		return Found{}, false
	}
	copyID, copyFrom := d.copyInstanceID()
	if copyID == "" {
		d.note("cloud-init: copy %s not used: the instance it belongs to is unknown (no %s, no instance link)", p, d.under(cloudInitInstanceID))
		return Found{}, false
	}
	cur, curFrom := d.currentInstanceID()
	switch {
	case cur == "":
		d.note("cloud-init: copy %s (instance %s) not used: the current instance id is unknown (no seed meta-data, no %s, no %s)",
			p, copyID, d.under(instanceDataJSON), d.under(dmiProductUUID))
		return Found{}, false
	case !strings.EqualFold(cur, copyID):
		d.note("cloud-init: copy %s not used: it belongs to instance %s (%s), the current one is %s (%s)", p, copyID, copyFrom, cur, curFrom)
		return Found{}, false
	}
	data, err := d.read(cloudInitCopyPath)
	if err != nil {
		d.note("cloud-init: copy %s not used: %v", p, err)
		return Found{}, false
	}
	d.note("user-data from cloud-init's copy %s (%d bytes): instance %s is current (%s)", p, len(data), cur, curFrom)
	return Found{Kind: KindCloudInit, Path: p, Data: data}, true
}

// copyInstanceID is the instance that cloud-init's copy belongs to: the id cloud-init recorded,
// else the name of the instance folder that /var/lib/cloud/instance links to.
func (d *discovery) copyInstanceID() (id, from string) {
	if b, err := d.read(cloudInitInstanceID); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), d.under(cloudInitInstanceID)
	}
	link := path.Dir(cloudInitCopyPath)
	if t, err := rootfs.ReadlinkIn(d.root, link); err == nil {
		return path.Base(t), d.under(link)
	}
	return "", ""
}

// copyPath is where cloud-init's copy is on the host, for the notes: cloud-init links
// /var/lib/cloud/instance to /var/lib/cloud/instances/<id> with an absolute target, which is
// resolved inside the root (the root may be another system's disk).
func (d *discovery) copyPath() string {
	rel, err := rootfs.ResolveIn(d.root, cloudInitCopyPath)
	if err != nil {
		return d.under(cloudInitCopyPath)
	}
	return filepath.Join(d.root, filepath.FromSlash(rel))
}

// Recorded returns the user-data that cloud-init recorded for every instance it ran on the system
// under root (root/var/lib/cloud/instances/<id>/user-data.txt), in the order of their ids, each
// with its Instance set; cloud-init keeps these after a new instance boots, so that they tell
// what an earlier instance's user-data wrote. The notes say what could not be read.
func Recorded(root string) ([]Found, []string) {
	d := &discovery{root: root}
	entries, err := rootfs.ReadDirIn(root, cloudInitInstances, 0)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.note("cloud-init: %s not read: %v", d.under(cloudInitInstances), unwrapPath(err))
		}
		return nil, d.notes
	}
	var out []Found
	for _, e := range entries {
		name := path.Join(cloudInitInstances, e.Name(), cloudInitRecord)
		data, err := d.read(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			d.note("cloud-init: %s not read: %v", d.under(name), err)
		default:
			out = append(out, Found{Kind: KindCloudInit, Path: d.under(name), Data: data, Instance: e.Name()})
		}
	}
	return out, d.notes
}

// CurrentInstance returns the id of the instance that is booting and where it was read, or ""
// when unknown: cloud-init's record for this boot, root/run/cloud-init/instance-data.json
// "v1.instance_id", else the SMBIOS system UUID (the instance uuid under OpenStack Nova). Run
// after cloud-init's local stage, as the helper is, it is cloud-init's own choice.
func CurrentInstance(root string) (id, from string) {
	d := &discovery{root: root}
	return d.currentInstanceID()
}

// currentInstanceID returns the id of the instance that is booting and where it was read, or
// "" when unknown.
func (d *discovery) currentInstanceID() (id, from string) {
	// The rule is UserData's, step 4.
	if len(d.ids) > 0 {
		return d.ids[0].id, d.ids[0].from
	}
	p := d.under(instanceDataJSON)
	if b, err := d.read(instanceDataJSON); err == nil {
		var v struct {
			V1 map[string]any `json:"v1"`
		}
		if json.Unmarshal(b, &v) == nil {
			for _, k := range []string{"instance_id", "instance-id"} {
				if s, ok := v.V1[k].(string); ok && s != "" {
					return s, p
				}
			}
		}
		d.note("cloud-init: %s has no v1.instance_id", p)
	}
	p = d.under(dmiProductUUID)
	if b, err := d.read(dmiProductUUID); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), p
	}
	return "", ""
}

func configDriveID(b []byte) (string, error) {
	var v struct {
		UUID string `json:"uuid"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", fmt.Errorf("not JSON: %v", err)
	}
	if v.UUID == "" {
		return "", errors.New("no uuid")
	}
	return v.UUID, nil
}

func noCloudID(b []byte) (string, error) {
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return "", fmt.Errorf("not YAML: %v", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	id, ok := v["instance-id"]
	if !ok || id == nil || fmt.Sprint(id) == "" {
		return "", errors.New("no instance-id")
	}
	return fmt.Sprint(id), nil
}

// read reads the file name under the root, its symlinks resolved as in a chroot into it: a regular
// file of at most rootfs.MaxFileSize bytes, without blocking on a FIFO put where user-data is
// expected (rootfs.ReadFileIn).
func (d *discovery) read(name string) ([]byte, error) {
	b, err := rootfs.ReadFileIn(d.root, name)
	return b, unwrapPath(err)
}

// unwrapPath drops the path from a *fs.PathError, which the notes already name.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, fs.ErrNotExist) {
			return fs.ErrNotExist
		}
		return pe.Err
	}
	return err
}
