package verify

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"
	"github.com/mitchellh/mapstructure"
)

// BuilderID identifies this post-processor's artifacts. It never changes.
const BuilderID = "clearwater.post-processor.verify"

// Artifact is the verified image: the input's files and the report beside the image.
type Artifact struct {
	in     packersdk.Artifact
	image  string
	report string
	labels map[string]string
	// What the input says, read at once: packer may end the input's plugin before it asks.
	files              []string
	id, str, builderID string
	inputMeta          interface{}
}

func newArtifact(in packersdk.Artifact, image, reportPath string, r *report) *Artifact {
	return &Artifact{in: in, image: image, report: reportPath, files: in.Files(), id: in.Id(), str: in.String(), builderID: in.BuilderId(),
		inputMeta: in.State(registryimage.ArtifactStateURI), labels: map[string]string{
			"clearwater_verified":            fmt.Sprint(r.Passed),
			"clearwater_verify_cases_passed": strings.Join(r.passed(), ","),
			"clearwater_verify_accelerator":  r.Accelerator,
			"clearwater_verify_report":       filepath.Base(reportPath),
		}}
}

// BuilderId returns BuilderID.
func (a *Artifact) BuilderId() string { return BuilderID }

// Files are the input's files and the report.
func (a *Artifact) Files() []string { return append(append([]string{}, a.files...), a.report) }

// Id is the input's.
func (a *Artifact) Id() string { return a.id }

func (a *Artifact) String() string {
	return fmt.Sprintf("%s, verified by clearwater-verify (cases passed: %s; report %s)", a.str, a.labels["clearwater_verify_cases_passed"], a.report)
}

// State answers par.artifact.metadata with the input's HCP Packer metadata (or one made from
// the input) plus the verification's labels; any other name is the input's.
func (a *Artifact) State(name string) interface{} {
	if name != registryimage.ArtifactStateURI {
		return a.in.State(name)
	}
	var img registryimage.Image
	if st := a.inputMeta; st == nil || mapstructure.WeakDecode(st, &img) != nil || img.ImageID == "" {
		img = registryimage.Image{ProviderName: a.builderID, ImageID: filepath.Base(a.image), ProviderRegion: filepath.Dir(a.image)}
	}
	if img.Labels == nil {
		img.Labels = map[string]string{}
	}
	for k, v := range a.labels {
		img.Labels[k] = v
	}
	return &img
}

// Destroy removes the report; the image belongs to the input artifact, which is kept.
func (a *Artifact) Destroy() error { return os.Remove(a.report) }
