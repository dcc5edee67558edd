package fuzztest

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLimitMinimizing checks that LimitMinimizing sets the flag that testing reads when it starts
// fuzzing, and leaves one given on the command line alone.
func TestLimitMinimizing(t *testing.T) {
	fl := flag.Lookup("test.fuzzminimizetime")
	before := fl.Value.String()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f == fl })
	LimitMinimizing(t)
	want := MinimizeRuns
	if given {
		want = before
	}
	if got := fl.Value.String(); got != want {
		t.Fatalf("-test.fuzzminimizetime = %q, want %q (given on the command line: %v)", got, want, given)
	}
}

// TestEveryTargetLimits checks that every fuzz target of the module calls LimitMinimizing first.
func TestEveryTargetLimits(t *testing.T) {
	root := filepath.Join("..", "..")
	target := regexp.MustCompile(`(?m)^func (Fuzz\w*)\((\w+) \*testing\.F\) \{\n\s*(.*)$`)
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bin" ||
				fileExists(filepath.Join(p, "go.mod"))) { // another module
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range target.FindAllStringSubmatch(string(b), -1) {
			n++
			if want := "fuzztest.LimitMinimizing(" + m[2] + ")"; m[3] != want {
				t.Errorf("%s: %s starts with %q, want %s", p, m[1], m[3], want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no fuzz targets found")
	}
	t.Logf("%d fuzz targets", n)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
