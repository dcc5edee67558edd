package docs

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
)

func TestMain(m *testing.M) { os.Exit(packertest.Run(m)) }

// example is one fenced HCL block of a document.
type example struct {
	doc  string // path relative to the repository
	line int    // line of the opening fence
	hcl  string // dedented
}

// fence finds fenced ```hcl blocks, indented ones (inside a list item) too.
var fence = regexp.MustCompile("(?m)^([ \t]*)```hcl[ \t]*\n((?s:.*?))^[ \t]*```[ \t]*$")

// examples lists the HCL blocks of every document a user reads.
func examples(t *testing.T) []example {
	t.Helper()
	root := packertest.RepoRoot()
	docs := []string{"README.md"}
	for _, dir := range []string{"docs", "example"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if strings.HasSuffix(p, ".mdx") || dir == "docs" && strings.HasSuffix(p, ".md") || d.Name() == "README.md" {
				docs = append(docs, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var out []example
	for _, doc := range docs {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fence.FindAllSubmatchIndex(b, -1) {
			indent := string(b[m[2]:m[3]])
			var lines []string
			for _, l := range strings.Split(string(b[m[4]:m[5]]), "\n") {
				lines = append(lines, strings.TrimPrefix(l, indent))
			}
			out = append(out, example{doc: doc, line: 1 + bytes.Count(b[:m[0]], []byte("\n")), hcl: strings.Join(lines, "\n")})
		}
	}
	return out
}

// fragmentOf wraps an example that is only attributes in the block of the component its page
// documents.
var fragmentOf = map[string]func(string) string{
	"docs/builders/chroot.mdx": func(s string) string {
		return "source \"clearwater-chroot\" \"docs\" {\n  source_image = \"base.qcow2\"\n" + s + "\n}\n" +
			"build {\n  sources = [\"source.clearwater-chroot.docs\"]\n}\n"
	},
	"docs/provisioners/firstboot.mdx": func(s string) string {
		return "provisioner \"clearwater-firstboot\" {\n" + s + "\n}\n"
	},
	"docs/post-processors/verify.mdx": func(s string) string {
		return "build {\n  sources = [\"source.null.docs\"]\n  post-processor \"clearwater-verify\" {\n" + s + "\n  }\n}\n"
	},
	"docs/datasources/userdata.mdx": func(s string) string {
		return "data \"clearwater-userdata\" \"docs\" {\n" + s + "\n}\n"
	},
}

var (
	firstWord   = regexp.MustCompile(`(?m)^([A-Za-z_][A-Za-z0-9_-]*)\s*(=|"|\{)`)
	otherSource = regexp.MustCompile(`(?m)^source\s+"([^"]+)"\s+"[^"]+"\s*\{`)
	varRef      = regexp.MustCompile(`\bvar\.([A-Za-z_][A-Za-z0-9_-]*)`)
	localFile   = regexp.MustCompile(`"(?:\$\{path\.root\}/)?([A-Za-z0-9_][A-Za-z0-9_./-]*\.[a-z][a-z0-9]*)"`)
)

// template makes a complete template of an example, and names the files it reads. A fragment
// goes into its component's block; a lone provisioner into a build; a source of a plugin that
// is not installed here (openstack, ...) becomes a locals block, so that its expressions are
// still evaluated; a template without a build gets one with the core null builder, and
// undeclared variables are declared.
func template(t *testing.T, ex example) (string, []string) {
	t.Helper()
	s := ex.hcl
	m := firstWord.FindStringSubmatch(s)
	switch {
	case m == nil:
		t.Fatalf("%s:%d: no HCL in the block", ex.doc, ex.line)
	case m[2] == "=":
		wrap := fragmentOf[ex.doc]
		if wrap == nil {
			t.Fatalf("%s:%d: the example is only attributes, and the test does not know which block they belong to: add the page to fragmentOf", ex.doc, ex.line)
		}
		s = wrap(s)
	}
	s = otherSource.ReplaceAllStringFunc(s, func(h string) string {
		typ := otherSource.FindStringSubmatch(h)[1]
		if typ == "file" || typ == "null" || strings.HasPrefix(typ, "clearwater-") {
			return h
		}
		return "locals { # was: " + strings.TrimSuffix(h, "{")
	})
	if firstWord.FindStringSubmatch(s)[1] == "provisioner" {
		s = "build {\n  sources = [\"source.null.docs\"]\n" + s + "\n}\n"
	}
	if !regexp.MustCompile(`(?m)^build\s*\{`).MatchString(s) {
		s += "\nbuild {\n  sources = [\"source.null.docs\"]\n}\n"
	}
	if strings.Contains(s, `"source.null.docs"`) {
		s += "\nsource \"null\" \"docs\" {\n  communicator = \"none\"\n}\n"
	}
	for _, v := range varRef.FindAllStringSubmatch(s, -1) {
		if !strings.Contains(s, `variable "`+v[1]+`"`) {
			s += fmt.Sprintf("\nvariable %q {\n  type    = string\n  default = \"\"\n}\n", v[1])
		}
	}
	var files []string
	for _, f := range localFile.FindAllStringSubmatch(s, -1) {
		files = append(files, f[1])
	}
	return s, files
}

// fixture is a plausible file of the kind its name says.
func fixture(t *testing.T, name string) []byte {
	const cloudConfig = "#cloud-config\npackages: [vim]\n"
	switch filepath.Ext(name) {
	case ".yaml", ".yml":
		return []byte(cloudConfig)
	case ".sh":
		return []byte("#!/bin/sh\necho docs\n")
	case ".gz":
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(cloudConfig))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	case ".qcow2", ".img", ".raw":
		return nil // packer validate reads no image
	}
	return []byte("docs\n")
}

// TestDocExamplesValidate runs packer validate -evaluate-datasources (the data sources run) on
// every example.
func TestDocExamplesValidate(t *testing.T) {
	all := examples(t)
	pages := map[string]bool{}
	for _, ex := range all {
		pages[ex.doc] = true
	}
	for doc := range fragmentOf {
		if !pages[doc] {
			t.Errorf("%s has no HCL example", doc)
		}
	}
	env := packertest.New(t)
	for _, ex := range all {
		t.Run(fmt.Sprintf("%s:%d", ex.doc, ex.line), func(t *testing.T) {
			dir := t.TempDir()
			tpl, files := template(t, ex)
			for _, f := range append(files, "base.qcow2") {
				p := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, fixture(t, f), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "example.pkr.hcl"), []byte(tpl), 0o644); err != nil {
				t.Fatal(err)
			}
			res := env.Validate(t, dir, "-evaluate-datasources", ".")
			if res.ExitCode != 0 || !strings.Contains(res.Output, "The configuration is valid") {
				t.Errorf("packer validate of the example at %s:%d (exit %d):\n%s\nas run:\n%s", ex.doc, ex.line, res.ExitCode, res.Output, tpl)
			}
		})
	}
}
