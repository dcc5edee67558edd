package chroot

import (
	"os"
	"strings"
	"testing"
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
