package exitcode

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// docTables are the docs that list the exit statuses in a table whose header starts "| Exit |
// Meaning |".
var docTables = []string{"docs/DESIGN.md", "docs/provisioners/firstboot.mdx"}

var row = regexp.MustCompile(`^\s*\|\s*(\d+)\s*\|\s*([^|]*?)\s*\|`)

// table reads the exit-status table of a doc: its rows' first two cells.
func table(t *testing.T, doc string) []Code {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", doc))
	if err != nil {
		t.Fatal(err)
	}
	var rows []Code
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		cells := strings.Fields(strings.ReplaceAll(line, "|", " | "))
		switch {
		case len(cells) >= 4 && cells[0] == "|" && cells[1] == "Exit" && cells[3] == "Meaning":
			if in || rows != nil {
				t.Fatalf("%s: two exit-status tables", doc)
			}
			in = true
		case in && strings.HasPrefix(strings.TrimSpace(line), "|--"):
		case in && row.MatchString(line):
			m := row.FindStringSubmatch(line)
			n, _ := strconv.Atoi(m[1])
			rows = append(rows, Code{n, m[2]})
		default:
			in = false
		}
	}
	if rows == nil {
		t.Fatalf("%s: no exit-status table (a header | Exit | Meaning |)", doc)
	}
	return rows
}

// The docs' tables name every exit status with the meaning the helper prints, and no other.
func TestDocsListTheExitStatuses(t *testing.T) {
	for _, doc := range docTables {
		if got := table(t, doc); !slices.Equal(got, All) {
			t.Errorf("%s lists the exit statuses\n%v\nbut firstboot/exitcode defines\n%v", doc, got, All)
		}
	}
}

func TestSummaryNamesEveryStatusOnce(t *testing.T) {
	s := Summary()
	for i, c := range All {
		if i > 0 && c.Status <= All[i-1].Status {
			t.Errorf("All is not in order of status: %d after %d", c.Status, All[i-1].Status)
		}
		if want := strconv.Itoa(c.Status) + " " + c.Meaning; strings.Count(s, want) != 1 {
			t.Errorf("Summary() %q does not name %q once", s, want)
		}
	}
}
