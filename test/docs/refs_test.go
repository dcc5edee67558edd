package docs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/hashicorp/hcl/v2/hcldec"

	"github.com/clearwater-aio/packer-plugin-clearwater/builder/chroot"
	"github.com/clearwater-aio/packer-plugin-clearwater/datasource/userdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
	"github.com/clearwater-aio/packer-plugin-clearwater/provisioner/firstboot"
)

// refDocs are the pages whose references are checked: every Markdown page of the repository but
// the generated .web-docs/ and test data.
func refDocs(t *testing.T, root string) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "*.md", "*.mdx").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var docs []string
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, ".web-docs/") || strings.Contains(f, "/testdata/") {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			docs = append(docs, f)
		}
	}
	return docs
}

// page is a document split into its prose (code blocks blanked, so that a heading or a link in
// an example is not taken for one) and its code.
type page struct {
	prose, code []string // lines, numbered from 1 at index 0
}

var fenceLine = regexp.MustCompile("^\\s*(```|~~~)")

func readPage(t *testing.T, path string) page {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p page
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		if fenceLine.MatchString(l) {
			in = !in
			p.prose, p.code = append(p.prose, ""), append(p.code, "")
			continue
		}
		if in {
			p.prose, p.code = append(p.prose, ""), append(p.code, l)
		} else {
			p.prose, p.code = append(p.prose, l), append(p.code, "")
		}
	}
	return p
}

var heading = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*#*\s*$`)

// anchors are the ids GitHub gives a page's headings: lower case, punctuation but - and _
// dropped, spaces made -, a repeated id suffixed -1, -2...
func anchors(p page) map[string]bool {
	ids, seen := map[string]bool{}, map[string]int{}
	for i, l := range p.prose {
		m := heading.FindStringSubmatch(l)
		if m == nil || i == 0 && strings.HasPrefix(l, "---") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		id := b.String()
		if n := seen[id]; n > 0 {
			ids[fmt.Sprintf("%s-%d", id, n)] = true
		} else {
			ids[id] = true
		}
		seen[id]++
	}
	return ids
}

var (
	mdLink   = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	codeSpan = regexp.MustCompile("`([^`\n]+)`")
	// makeCall is `make` and the targets after it (words that are not VAR=value or options).
	makeCall = regexp.MustCompile(`(?:^|[\s;&|(]|\$ )make((?:\s+[a-z][a-z0-9-]*)+)`)
	// repoPath is a path that starts at a top-level entry of the repository.
	repoPath     = regexp.MustCompile(`(?:^|[\s=("'])((?:\.\./)*\.?[A-Za-z][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.*{}-]+)*/?)`)
	optionBullet = regexp.MustCompile("(?m)^\\s*- `([a-z_0-9]+)` \\(")
)

// makeTargets are the targets `make help` lists.
func makeTargets(t *testing.T, root string) map[string]bool {
	t.Helper()
	out, err := exec.Command("make", "--no-print-directory", "-C", root, "help").Output()
	if err != nil {
		t.Fatalf("make help: %v", err)
	}
	targets := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			targets[f[0]] = true
		}
	}
	return targets
}

// problem is one bad reference, with where it is.
type problem struct {
	doc  string
	line int
	what string
}

func (p problem) String() string { return fmt.Sprintf("%s:%d: %s", p.doc, p.line, p.what) }

// checker checks a repository's documents against its files, headings and make targets.
type checker struct {
	root    string
	targets map[string]bool
	pages   map[string]page
	top     map[string]bool // the repository's top-level entries
}

func newChecker(t *testing.T, root string, targets map[string]bool) *checker {
	c := &checker{root: root, targets: targets, pages: map[string]page{}, top: map[string]bool{}}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); n != ".git" && n != "bin" && n != "dist" && !strings.HasPrefix(n, "output-") && n != ".cache" {
			c.top[n] = true
		}
	}
	return c
}

func (c *checker) page(t *testing.T, rel string) page {
	if p, ok := c.pages[rel]; ok {
		return p
	}
	p := readPage(t, filepath.Join(c.root, rel))
	c.pages[rel] = p
	return p
}

// check returns every reference of doc that names nothing.
func (c *checker) check(t *testing.T, doc string) []problem {
	p := c.page(t, doc)
	var bad []problem
	add := func(i int, format string, args ...any) {
		bad = append(bad, problem{doc, i + 1, fmt.Sprintf(format, args...)})
	}
	for i, l := range p.prose {
		for _, m := range mdLink.FindAllStringSubmatch(l, -1) {
			if why := c.link(t, doc, m[1]); why != "" {
				add(i, "link %s: %s", m[1], why)
			}
		}
		for _, m := range codeSpan.FindAllStringSubmatch(l, -1) {
			for _, why := range c.code(doc, m[1]) {
				add(i, "`%s`: %s", m[1], why)
			}
		}
	}
	for i, l := range p.code {
		for _, why := range c.makeCalls(l) {
			add(i, "%s", why)
		}
	}
	return bad
}

// link checks a Markdown link's file and heading; web addresses and the integrations registry's
// own paths are not checked.
func (c *checker) link(t *testing.T, doc, target string) string {
	if strings.Contains(target, "://") || strings.HasPrefix(target, "/") || strings.HasPrefix(target, "mailto:") {
		return ""
	}
	file, anchor, _ := strings.Cut(target, "#")
	rel := doc
	if file != "" {
		rel = filepath.Clean(filepath.Join(filepath.Dir(doc), file))
		fi, err := os.Stat(filepath.Join(c.root, rel))
		if err != nil {
			return "no such file in the repository"
		}
		if fi.IsDir() || anchor == "" || !strings.HasSuffix(rel, ".md") && !strings.HasSuffix(rel, ".mdx") {
			return ""
		}
	}
	if anchor != "" && !anchors(c.page(t, rel))[anchor] {
		return fmt.Sprintf("%s has no heading #%s", rel, anchor)
	}
	return ""
}

// code checks a code span: the make targets it runs and the repository paths it names.
func (c *checker) code(doc, span string) []string {
	bad := c.makeCalls(span)
	if strings.ContainsAny(span, "<>*…") || strings.Contains(span, "...") {
		return bad // a pattern or a placeholder, not a path
	}
	for _, m := range repoPath.FindAllStringSubmatch(span, -1) {
		path := m[1]
		first, _, nested := strings.Cut(strings.TrimLeft(path, "./"), "/")
		if strings.HasPrefix(path, "../") {
			first, nested = "..", true
		}
		if !nested && !c.top[path] || first != ".." && !c.top[first] {
			continue // not a path of this repository (a word, a guest's path, a build output)
		}
		if !c.exists(doc, path) {
			bad = append(bad, "no such file or folder in the repository: "+path)
		}
	}
	return bad
}

// exists says whether path names a file of the repository, from its root or from doc's folder;
// a Go package's identifier may follow the path (internal/settings.Settings).
func (c *checker) exists(doc, path string) bool {
	dir, last := filepath.Split(path)
	paths := []string{path}
	if pkg, ident, ok := strings.Cut(last, "."); ok && ident != "" && unicode.IsUpper(rune(ident[0])) {
		paths = append(paths, dir+pkg)
	}
	for _, base := range []string{c.root, filepath.Join(c.root, filepath.Dir(doc))} {
		for _, p := range paths {
			if _, err := os.Stat(filepath.Join(base, p)); err == nil {
				return true
			}
		}
	}
	return false
}

func (c *checker) makeCalls(s string) []string {
	var bad []string
	for _, m := range makeCall.FindAllStringSubmatch(s, -1) {
		for _, target := range strings.Fields(m[1]) {
			if !c.targets[target] {
				bad = append(bad, fmt.Sprintf("make %s: no such target in `make help`", target))
			}
		}
	}
	return bad
}

// TestDocReferencesExist fails when a page links to a file or heading that does not exist, runs
// a make target that `make help` does not list, or names a repository file that is not there.
func TestDocReferencesExist(t *testing.T) {
	root := packertest.RepoRoot()
	c := newChecker(t, root, makeTargets(t, root))
	docs := refDocs(t, root)
	for _, want := range []string{"README.md", "CONTRIBUTING.md", "docs/DESIGN.md", "example/README.md"} {
		if !slices.Contains(docs, want) {
			t.Errorf("%s is not among the pages checked", want)
		}
	}
	for _, doc := range docs {
		for _, p := range c.check(t, doc) {
			t.Error(p)
		}
	}
}

// TestDocOptionsExist fails when a component page documents an option (or a data source's
// output) that its component does not have; the other way round, each component's own docs test
// holds.
func TestDocOptionsExist(t *testing.T) {
	root := packertest.RepoRoot()
	ds := &userdata.Datasource{}
	for page, specs := range map[string][]hcldec.ObjectSpec{
		"docs/builders/chroot.mdx":        {(&chroot.Builder{}).ConfigSpec()},
		"docs/provisioners/firstboot.mdx": {(&firstboot.Provisioner{}).ConfigSpec()},
		"docs/datasources/userdata.mdx":   {ds.ConfigSpec(), ds.OutputSpec()},
	} {
		b, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			t.Fatal(err)
		}
		has := func(key string) bool {
			return slices.ContainsFunc(specs, func(s hcldec.ObjectSpec) bool { _, ok := s[key]; return ok })
		}
		for _, m := range optionBullet.FindAllStringSubmatch(string(b), -1) {
			if !has(m[1]) {
				t.Errorf("%s documents the option %q, which the component does not have", page, m[1])
			}
		}
	}
}

// TestMakeHelpListsEveryTarget: every phony target of the GNUmakefile has a "## target:" line,
// so that `make help` (and the check of the targets the pages run) knows it.
func TestMakeHelpListsEveryTarget(t *testing.T) {
	root := packertest.RepoRoot()
	b, err := os.ReadFile(filepath.Join(root, "GNUmakefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := makeTargets(t, root)
	phony := regexp.MustCompile(`(?m)^\.PHONY:((?:[^\n\\]|\\\n)*)`)
	for _, m := range phony.FindAllStringSubmatch(string(b), -1) {
		for _, name := range strings.Fields(strings.ReplaceAll(m[1], "\\", " ")) {
			if name != "all" && !targets[name] {
				t.Errorf("make help does not list %s: give it a \"## %s: ...\" line above its rule", name, name)
			}
		}
	}
}

// TestCheckerFindsBadReferences plants one bad reference of each kind in a small tree: the
// checker must name each, and nothing else.
func TestCheckerFindsBadReferences(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"GNUmakefile":   "",
		"docs/a.md":     "# A page\n\n## Its part\n",
		"example/x.hcl": "",
		"README.md": "# R\n\n" +
			"Good: [a](docs/a.md), [part](docs/a.md#its-part), [here](#r), `make build`, `example/x.hcl`, `docs/`.\n" +
			"Bad file: [b](docs/b.md).\n" +
			"Bad heading: [part](docs/a.md#no-such-part).\n" +
			"Bad target: `make build nothing`.\n" +
			"Bad path: `example/y.hcl`.\n" +
			"```sh\nmake lost\n[not a link](nowhere.md)\n```\n",
	}
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := newChecker(t, root, map[string]bool{"build": true})
	var got []string
	for _, p := range c.check(t, "README.md") {
		got = append(got, p.String())
	}
	want := []string{
		"README.md:4: link docs/b.md: no such file in the repository",
		"README.md:5: link docs/a.md#no-such-part: docs/a.md has no heading #no-such-part",
		"README.md:6: `make build nothing`: make nothing: no such target in `make help`",
		"README.md:7: `example/y.hcl`: no such file or folder in the repository: example/y.hcl",
		"README.md:9: make lost: no such target in `make help`",
	}
	if !slices.Equal(got, want) {
		t.Errorf("the checker found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
