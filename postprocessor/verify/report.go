package verify

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// report is the JSON written beside the image: what was proven, case by case.
type report struct {
	Image       string       `json:"image"`
	Accelerator string       `json:"accelerator"`
	Passed      bool         `json:"passed"`
	Cases       []caseReport `json:"cases"`

	results []result
}

type caseReport struct {
	Name        string  `json:"name"`
	Network     string  `json:"network"`
	UserData    bool    `json:"user_data"`
	Expected    string  `json:"expected"`
	ExpectedWhy string  `json:"expected_why,omitempty"`
	Decided     string  `json:"decided"` // "" when the helper did not report
	Address     string  `json:"address,omitempty"`
	ForceIPv6   bool    `json:"force_ipv6"`
	ForceSource string  `json:"force_source,omitempty"`
	Degraded    bool    `json:"degraded"`
	Reason      string  `json:"reason,omitempty"`
	BakedForce  *bool   `json:"baked_force_ipv6,omitempty"`
	BootSeconds float64 `json:"boot_seconds"`
	Passed      bool    `json:"passed"`
	Error       string  `json:"error,omitempty"`
}

func newReport(image, accel string, results []result) *report {
	r := &report{Image: image, Accelerator: accel, Passed: true, results: results}
	for _, x := range results {
		c := caseReport{Name: x.Name, Network: x.Network, UserData: len(x.userData()) > 0, Expected: x.expected,
			ExpectedWhy: x.expectedWhy, BootSeconds: float64(x.took.Milliseconds()) / 1000, Passed: x.fail == "", Error: x.fail}
		if c.Expected == expectBaked {
			c.Expected = ""
		}
		if v := x.verdict; v != nil {
			c.Decided, c.Address, c.ForceIPv6, c.ForceSource, c.Degraded, c.Reason = v.Family, v.Address, v.ForceIPv6, v.ForceSource, v.Degraded, v.Reason
			if v.Baked != nil {
				c.BakedForce = &v.Baked.ForceIPv6
			}
		}
		r.Passed = r.Passed && c.Passed
		r.Cases = append(r.Cases, c)
	}
	return r
}

func (r *report) write(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("clearwater-verify: writing the report: %w", err)
	}
	return nil
}

// passed lists the names of the cases that passed.
func (r *report) passed() []string {
	var names []string
	for _, c := range r.Cases {
		if c.Passed {
			names = append(names, c.Name)
		}
	}
	return names
}

// tailLines is how much of a failed case's console the error shows.
const tailLines = 25

// failures says, for each failed case, what was expected, what the helper decided and why, and
// the end of its console.
func (r *report) failures() []string {
	var out []string
	for _, x := range r.results {
		if x.fail == "" {
			continue
		}
		ud := "no user-data"
		if len(x.userData()) > 0 {
			ud = describeUserData(x.Case)
		}
		s := fmt.Sprintf("case %q (%s, %s): %s", x.Name, x.Network, ud, x.fail)
		if x.expectedWhy != "" {
			s += " [expected " + x.expected + ": " + x.expectedWhy + "]"
		}
		out = append(out, s+"\n--- console of case "+x.Name+" (end) ---\n"+consoleTail(x.console, tailLines))
	}
	return out
}

// ansiRE matches the terminal escapes that systemd writes on a console.
var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// consoleTail is the last n lines of a console log, without CRs and escapes.
func consoleTail(log string, n int) string {
	log = strings.ReplaceAll(ansiRE.ReplaceAllString(log, ""), "\r", "")
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
