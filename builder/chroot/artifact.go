package chroot

import (
	"fmt"
	"os"
	"strconv"

	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"
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
// "sha256", "checksum_file", "output_directory" or "generated_data"; and for
// registryimage.ArtifactStateURI ("par.artifact.metadata") the image as HCP
// Packer's registry records it, as HashiCorp's own builders do, so that a
// pipeline with a registry sees the image.
func (a *Artifact) State(name string) interface{} {
	if name == registryimage.ArtifactStateURI {
		return a.registryImage()
	}
	return a.StateData[name]
}

// RegistryProvider is the provider name the registry shows for this
// builder's images.
const RegistryProvider = "clearwater-chroot"

// registryImage describes the image for HCP Packer: its sha256 as the id (the
// same bytes are the same image wherever the file goes), the output directory
// as its region (the SDK's choice for builders whose output is a file), and its
// file, format, size and checksum file as labels.
func (a *Artifact) registryImage() interface{} {
	img, err := registryimage.FromArtifact(a,
		registryimage.WithProvider(RegistryProvider),
		registryimage.WithRegion(a.Dir),
		registryimage.SetLabels(map[string]interface{}{
			"image_path":    a.Image,
			"format":        a.Format,
			"size":          strconv.FormatInt(a.Size, 10),
			"sha256":        a.SHA256,
			"checksum_file": a.ChecksumFile,
		}))
	if err != nil {
		return nil // FromArtifact fails only for a nil artifact
	}
	return img
}

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
