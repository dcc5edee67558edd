package neutronlab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Config drive formats (nova.conf config_drive_format).
const (
	ISO9660 = "iso9660"
	VFAT    = "vfat"
)

// ConfigDriveLabel is the volume label Nova gives both formats.
const ConfigDriveLabel = "config-2"

// novaProduct is genisoimage's -publisher: Nova's product name and version.
const novaProduct = "OpenStack Compute 31.1.0"

// vfatSize is CONFIGDRIVESIZE_BYTES: Nova's vfat drive is a 64 MiB file.
const vfatSize = 64 << 20

// ConfigDriveFiles is the tree Nova writes (nova/api/metadata/base.py metadata_for_config_drive):
// ec2/{2009-04-04,latest}/meta-data.json [+ user-data], and openstack/<every version>/ with
// meta_data.json [user_data] and, from the versions that added them, vendor_data.json,
// network_data.json, vendor_data2.json. Paths are slash-separated.
func ConfigDriveFiles(s Spec) map[string][]byte {
	files := map[string][]byte{}
	for _, v := range []string{EC2Versions[len(EC2Versions)-1], "latest"} {
		files["ec2/"+v+"/meta-data.json"] = EC2MetaData(s)
		if s.UserData != nil {
			files["ec2/"+v+"/user-data"] = s.UserData
		}
	}
	for _, v := range append(OpenStackVersions, "latest") {
		for _, f := range openStackFiles(v, s.UserData != nil) {
			var data []byte
			switch f {
			case "meta_data.json":
				data = MetaData(s)
			case "user_data":
				data = s.UserData
			case "network_data.json":
				data = NetworkData(s)
			case "vendor_data.json":
				data = VendorData(s)
			case "vendor_data2.json":
				data = []byte("{}")
			case "password":
				continue // served by the metadata API only
			}
			files["openstack/"+v+"/"+f] = data
		}
	}
	return files
}

// WriteConfigDrive writes the spec's config drive to path in format (ISO9660 or VFAT), as
// Nova's configdrive.py does: genisoimage with Nova's flags, or a 64 MiB file made vfat with
// label config-2 and filled (with mtools here, where Nova mounts it: no loop device needed).
func WriteConfigDrive(ctx context.Context, s Spec, format, path string) error {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".configdrive-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for name, data := range ConfigDriveFiles(s) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	switch format {
	case ISO9660:
		return run(ctx, nil, "genisoimage", "-o", path, "-ldots", "-allow-lowercase", "-allow-multidot", "-l",
			"-publisher", novaProduct, "-quiet", "-J", "-r", "-V", ConfigDriveLabel, dir)
	case VFAT:
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		err = f.Truncate(vfatSize)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if err := run(ctx, nil, "mkfs.vfat", "-n", ConfigDriveLabel, path); err != nil {
			return err
		}
		// mcopy -s copies the two top folders with everything under them.
		return run(ctx, []string{"MTOOLS_SKIP_CHECK=1"}, "mcopy", "-s", "-i", path,
			filepath.Join(dir, "ec2"), filepath.Join(dir, "openstack"), "::/")
	}
	return fmt.Errorf("neutronlab: config drive format %q: want %s or %s", format, ISO9660, VFAT)
}

// run runs a command, its output in the error.
func run(ctx context.Context, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
