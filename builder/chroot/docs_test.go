package chroot

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
)

const docsPath = "../../docs/builders/chroot.mdx"

func TestDocsListEveryOption(t *testing.T) {
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(doc), "---\n") || !strings.Contains(string(doc), "\n# Clearwater Chroot Builder\n\nType: `clearwater-chroot`") {
		t.Error("the doc lacks the integration front matter, H1 or Type line")
	}
	for key := range (&Builder{}).ConfigSpec() {
		if strings.HasPrefix(key, "packer_") {
			continue // set by Packer, not by users
		}
		if !strings.Contains(string(doc), "- `"+key+"` (") {
			t.Errorf("%s does not document %s", docsPath, key)
		}
	}
}

// TestDocsExampleValidates runs packer validate on the doc's example.
func TestDocsExampleValidates(t *testing.T) {
	env := packertest.New(t)
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Example.*?```hcl\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no example")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "files/hello.conf"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "example.pkr.hcl"), m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	if res := env.Validate(t, dir, "example.pkr.hcl"); res.ExitCode != 0 {
		t.Fatalf("packer validate of the docs example failed:\n%s", res.Output)
	}
}
