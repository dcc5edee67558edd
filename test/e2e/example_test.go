package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
)

func TestMain(m *testing.M) { os.Exit(packertest.Run(m)) }

// exampleDir is the example's directory: the templates a newcomer runs.
func exampleDir() string { return filepath.Join(packertest.RepoRoot(), "example") }

// keysVarFile is the -var-file of the deployment's secrets, which the examples ask for (they have
// no default); suiteSignupKey and suiteEllisAPIKey are its values, checked in shared_config.
func keysVarFile() string {
	return "-var-file=" + filepath.Join(packertest.RepoRoot(), "test", "e2e", "testdata", "keys.pkrvars.hcl")
}

const (
	suiteSignupKey   = "suite-signup-key"
	suiteEllisAPIKey = "suite-ellis-api-key"
)

// TestExampleValidate runs packer validate on example/ as a newcomer's packer would, with the
// plugin installed: every block and option must be known to the plugin. The builder checks that
// base_image exists, so a stand-in file is given (validate reads no image).
func TestExampleValidate(t *testing.T) {
	env := packertest.New(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	if err := os.WriteFile(base, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res := env.Validate(t, dir, keysVarFile(), "-var", "base_image="+base, exampleDir())
	if res.ExitCode != 0 || !strings.Contains(res.Output, "The configuration is valid") {
		t.Fatalf("packer validate example/ (exit %d):\n%s", res.ExitCode, res.Output)
	}

	// The deployment's secrets have no default: without them packer stops, naming each.
	res = env.Validate(t, dir, "-var", "base_image="+base, exampleDir())
	if res.ExitCode == 0 || !strings.Contains(res.Output, `Unset variable "signup_key"`) || !strings.Contains(res.Output, `Unset variable "ellis_api_key"`) {
		t.Fatalf("packer validate without signup_key and ellis_api_key: exit %d, want an error naming both:\n%s", res.ExitCode, res.Output)
	}

	// And it must fail, naming the option, when the base image is missing: the check that
	// tells a newcomer to build it first.
	res = env.Validate(t, dir, keysVarFile(), "-var", "base_image="+filepath.Join(dir, "missing.qcow2"), exampleDir())
	if res.ExitCode == 0 || !strings.Contains(res.Output, "source_image") {
		t.Fatalf("packer validate with a missing base image: exit %d, want an error naming source_image:\n%s", res.ExitCode, res.Output)
	}
}

// TestExampleFormat checks that the templates are in packer fmt's canonical form.
func TestExampleFormat(t *testing.T) {
	env := packertest.New(t)
	cmd := env.Command(t.Context(), exampleDir(), "fmt", "-check", "-diff", ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("packer fmt -check example/: %v\n%s", err, out)
	}
}
