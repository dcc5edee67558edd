package chroot

import (
	"net"
	"path/filepath"
	"testing"

	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"
	"github.com/hashicorp/packer-plugin-sdk/rpc"
	"github.com/mitchellh/mapstructure"
)

// TestArtifactHCPMetadata serves the artifact over the SDK's RPC, as the plugin does to packer,
// and decodes its "par.artifact.metadata" state as packer's HCP Packer registry does: the image
// must arrive with its id, provider, region and labels.
func TestArtifactHCPMetadata(t *testing.T) {
	dir := t.TempDir()
	a := newArtifact(dir, filepath.Join(dir, "x.qcow2"), filepath.Join(dir, "x.qcow2.sha256"), "qcow2", 42, "abc", map[string]interface{}{})

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		defer close(accepted)
		if c, err := l.Accept(); err == nil {
			accepted <- c
		}
	}()
	clientConn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	serverConn := <-accepted
	if serverConn == nil {
		t.Fatal("no connection accepted")
	}
	server, err := rpc.NewServer(serverConn)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if err := server.RegisterArtifact(a); err != nil {
		t.Fatal(err)
	}
	go server.Serve()
	client, err := rpc.NewClient(clientConn)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	state := client.Artifact().State(registryimage.ArtifactStateURI)
	if state == nil {
		t.Fatal("the artifact has no HCP Packer metadata")
	}
	// As packer 1.11's internal/hcp/registry decodes it.
	var images []registryimage.Image
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &images, WeaklyTypedInput: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(state); err != nil {
		t.Fatalf("decoding %#v: %v", state, err)
	}
	if len(images) != 1 {
		t.Fatalf("decoded %d images from %#v, want 1", len(images), state)
	}
	img := images[0]
	if err := img.Validate(); err != nil {
		t.Error(err)
	}
	if img.ImageID != "abc" || img.ProviderName != "clearwater-chroot" || img.ProviderRegion != dir {
		t.Errorf("image %+v, want id abc, provider clearwater-chroot, region %s", img, dir)
	}
	for k, want := range map[string]string{"image_path": filepath.Join(dir, "x.qcow2"), "format": "qcow2", "size": "42", "sha256": "abc",
		"checksum_file": filepath.Join(dir, "x.qcow2.sha256")} {
		if img.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, img.Labels[k], want)
		}
	}
}
