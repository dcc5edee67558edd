package chroot

import (
	"fmt"
	"os"
)

// BuilderID identifies this builder's artifacts to post-processors. It
// never changes.
const BuilderID = "clearwater.chroot"

// Artifact is the image the builder wrote, and its checksum file beside it.
type Artifact struct {
	// Dir is the output directory holding the files.
	Dir string
	// Image is the path of the image file.
	Image string
	// ChecksumFile is the path of the sha256sum-style file beside Image.
	ChecksumFile string
	// Format is "qcow2" or "raw".
	Format string
	// Size is the size of Image in bytes.
	Size int64
	// SHA256 is the hex sha256 of Image.
	SHA256 string
	// StateData is what State returns; it includes "generated_data".
	StateData map[string]interface{}
}

// BuilderId returns BuilderID.
func (a *Artifact) BuilderId() string { return BuilderID }

// Files returns the image and its checksum file.
func (a *Artifact) Files() []string { return []string{a.Image, a.ChecksumFile} }

// Id returns the image's sha256.
func (a *Artifact) Id() string { return a.SHA256 }

// String describes the artifact for Packer's summary.
func (a *Artifact) String() string {
	return fmt.Sprintf("%s image %s (%d bytes, sha256 %s)", a.Format, a.Image, a.Size, a.SHA256)
}

// State returns the named value: "image_path", "format", "size",
// "sha256", "checksum_file", "output_directory" or "generated_data".
func (a *Artifact) State(name string) interface{} { return a.StateData[name] }

// Destroy removes the output directory.
func (a *Artifact) Destroy() error { return os.RemoveAll(a.Dir) }

// newArtifact builds the artifact and its state map.
func newArtifact(dir, image, sumFile, format string, size int64, sum string, generated interface{}) *Artifact {
	return &Artifact{
		Dir: dir, Image: image, ChecksumFile: sumFile, Format: format, Size: size, SHA256: sum,
		StateData: map[string]interface{}{
			"image_path":       image,
			"format":           format,
			"size":             size,
			"sha256":           sum,
			"checksum_file":    sumFile,
			"output_directory": dir,
			"generated_data":   generated,
		},
	}
}
