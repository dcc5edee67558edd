package qemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// NoCloud is a cloud-init NoCloud seed: an ISO 9660 volume labelled cidata holding
// user-data, meta-data and optionally network-config and vendor-data.
type NoCloud struct {
	UserData []byte
	// MetaData defaults to a fresh instance-id and local-hostname "cw-test".
	MetaData      []byte
	NetworkConfig []byte
	VendorData    []byte
}

// ConfigDrive is an OpenStack config drive: an ISO 9660 volume labelled config-2 holding
// openstack/latest/{user_data,meta_data.json,network_data.json,vendor_data.json}.
type ConfigDrive struct {
	UserData []byte
	// MetaData is meta_data.json; nil means {"uuid": <fresh>, "hostname": "cw-test"}. cloud-init
	// takes the instance ID from "uuid".
	MetaData    map[string]any
	NetworkData []byte
	VendorData  []byte
}

// WriteISO writes the seed as an ISO image at path.
func (s *NoCloud) WriteISO(ctx context.Context, path string) error {
	meta := s.MetaData
	if meta == nil {
		meta = fmt.Appendf(nil, "instance-id: iid-%s\nlocal-hostname: cw-test\n", randomID())
	}
	files := map[string][]byte{"user-data": s.UserData, "meta-data": meta}
	if s.NetworkConfig != nil {
		files["network-config"] = s.NetworkConfig
	}
	if s.VendorData != nil {
		files["vendor-data"] = s.VendorData
	}
	return writeISO(ctx, path, "cidata", files)
}

// WriteISO writes the config drive as an ISO image at path.
func (d *ConfigDrive) WriteISO(ctx context.Context, path string) error {
	meta := d.MetaData
	if meta == nil {
		meta = map[string]any{"uuid": randomID(), "hostname": "cw-test", "name": "cw-test"}
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("config drive meta_data.json: %w", err)
	}
	files := map[string][]byte{"openstack/latest/meta_data.json": metaJSON}
	if d.UserData != nil {
		files["openstack/latest/user_data"] = d.UserData
	}
	if d.NetworkData != nil {
		files["openstack/latest/network_data.json"] = d.NetworkData
	}
	if d.VendorData != nil {
		files["openstack/latest/vendor_data.json"] = d.VendorData
	}
	return writeISO(ctx, path, "config-2", files)
}

// writeISO lays files out in a scratch directory and runs genisoimage over it (Joliet and
// Rock Ridge, as cloud-init's documentation does).
func writeISO(ctx context.Context, path, label string, files map[string][]byte) error {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".iso-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, "genisoimage", "-quiet", "-output", path, "-volid", label,
		"-joliet", "-rock", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("genisoimage (Debian package genisoimage): %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// randomID is a fresh instance ID, so every boot is a first boot for cloud-init.
func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
