//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config

package chroot

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"
)

// Config is the builder's configuration; docs/builders/chroot.mdx documents
// every field.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	SourceImage         string     `mapstructure:"source_image"`
	SourceImageChecksum string     `mapstructure:"source_image_checksum"`
	Format              string     `mapstructure:"format"`
	Compression         string     `mapstructure:"compression"`
	OutputDirectory     string     `mapstructure:"output_directory"`
	ImageName           string     `mapstructure:"image_name"`
	DiskSize            string     `mapstructure:"disk_size"`
	RootPartition       int        `mapstructure:"root_partition"`
	MountPath           string     `mapstructure:"mount_path"`
	ChrootMounts        [][]string `mapstructure:"chroot_mounts"`
	CopyFiles           []string   `mapstructure:"copy_files"`

	// diskSizeBytes is DiskSize parsed; 0 keeps the source's size.
	diskSizeBytes int64
	ctx           interpolate.Context
}

// defaultChrootMounts are mounted inside the root, in this order, unless
// chroot_mounts is set.
var defaultChrootMounts = [][]string{
	{"proc", "proc", "/proc"},
	{"sysfs", "sysfs", "/sys"},
	{"bind", "/dev", "/dev"},
	{"devpts", "devpts", "/dev/pts"},
}

// Prepare decodes raws into c, sets defaults and validates every field. It
// is idempotent: Packer may call it more than once.
func (c *Config) Prepare(raws ...interface{}) ([]string, error) {
	err := config.Decode(c, &config.DecodeOpts{
		PluginType:         BuilderID,
		Interpolate:        true,
		InterpolateContext: &c.ctx,
	}, raws...)
	if err != nil {
		return nil, err
	}
	var errs *packersdk.MultiError
	add := func(format string, a ...interface{}) {
		errs = packersdk.MultiErrorAppend(errs, fmt.Errorf(format, a...))
	}

	if c.Format == "" {
		c.Format = "qcow2"
	}
	if c.Format != "qcow2" && c.Format != "raw" {
		add("format: %q is not supported: use \"qcow2\" or \"raw\"", c.Format)
	}
	if err := c.prepareCompression(); err != nil {
		errs = packersdk.MultiErrorAppend(errs, err)
	}
	if c.OutputDirectory == "" {
		c.OutputDirectory = "output-" + c.PackerBuildName
	}
	if c.ImageName == "" {
		c.ImageName = c.PackerBuildName
		if c.ImageName == "" {
			c.ImageName = "image"
		}
		c.ImageName += "." + c.Format
	}
	if strings.ContainsRune(c.ImageName, '/') || c.ImageName == "." || c.ImageName == ".." {
		add("image_name: %q must be a plain file name without \"/\"", c.ImageName)
	}
	if c.ChrootMounts == nil {
		c.ChrootMounts = defaultChrootMounts
	}
	if c.CopyFiles == nil {
		c.CopyFiles = []string{"/etc/resolv.conf"}
	}

	for _, e := range c.prepareSource() {
		errs = packersdk.MultiErrorAppend(errs, e)
	}
	c.diskSizeBytes = 0
	if c.DiskSize != "" {
		n, err := parseSize(c.DiskSize)
		if err != nil {
			add("disk_size: %v", err)
		}
		c.diskSizeBytes = n
	}
	if c.RootPartition < 0 {
		add("root_partition: %d is not a partition number: use 1 for the first partition, or leave it unset to find the root", c.RootPartition)
	}
	if c.MountPath != "" && !filepath.IsAbs(c.MountPath) {
		add("mount_path: %q must be an absolute path", c.MountPath)
	}
	for i, m := range c.ChrootMounts {
		if len(m) != 3 || m[0] == "" || m[1] == "" || !path.IsAbs(m[2]) {
			add("chroot_mounts[%d]: %q must be [type, source, absolute target], e.g. [\"proc\", \"proc\", \"/proc\"] or [\"bind\", \"/dev\", \"/dev\"]", i, m)
		}
	}
	for i, f := range c.CopyFiles {
		if !path.IsAbs(f) {
			add("copy_files[%d]: %q must be an absolute path (it is copied from the host to the same path in the image)", i, f)
		}
	}
	if !c.PackerForce {
		if _, err := os.Stat(c.OutputDirectory); err == nil {
			add("output_directory: %q already exists: remove it or run packer build with -force", c.OutputDirectory)
		}
	}
	if errs != nil && len(errs.Errors) > 0 {
		return nil, errs
	}
	return nil, nil
}

// prepareSource validates source_image and source_image_checksum.
func (c *Config) prepareSource() []error {
	if c.SourceImage == "" {
		return []error{errors.New("source_image: required: set a local path or a URL (http, https or file) of a qcow2 or raw disk image")}
	}
	if isURL(c.SourceImage) {
		u, err := url.Parse(c.SourceImage)
		if err != nil {
			return []error{fmt.Errorf("source_image: %q is not a valid URL: %v", c.SourceImage, err)}
		}
		if c.SourceImageChecksum == "" && u.Query().Get("checksum") == "" {
			return []error{fmt.Errorf("source_image_checksum: required when source_image is a URL: set it to \"sha256:<hex>\" or \"file:<url of a SHA256SUMS file>\"")}
		}
		return nil
	}
	fi, err := os.Stat(c.SourceImage)
	if err != nil {
		return []error{fmt.Errorf("source_image: %v: set an existing image file or a URL", err)}
	}
	if !fi.Mode().IsRegular() {
		return []error{fmt.Errorf("source_image: %q is not a regular file", c.SourceImage)}
	}
	return nil
}

// isURL reports whether s names a URL rather than a local path.
func isURL(s string) bool {
	i := strings.Index(s, "://")
	return i > 0 && !strings.ContainsAny(s[:i], "/.")
}

// parseSize parses a size such as "8G", "512M", "10GiB" or "1073741824"
// (bytes); suffixes are binary (K=1024).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(t), "IB"), "B")
	shift := 0
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		case 'T':
			shift = 40
		}
		if shift != 0 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is not a size: use a positive number with an optional K, M, G or T suffix, e.g. \"8G\"", s)
	}
	return n << shift, nil
}
