package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
)

// The examples for packer's own builders: example/qemu and example/openstack must validate with
// the real peer plugins (pinned in tools/packer-plugin-*) and be in packer fmt's form.

// TestQemuExampleValidate runs packer validate on example/qemu with packer-plugin-qemu installed.
func TestQemuExampleValidate(t *testing.T) {
	env := packertest.New(t)
	env.InstallPeer(t, "qemu", "github.com/hashicorp/qemu")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	if err := os.WriteFile(base, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	key := sshKey(t)
	for _, extra := range [][]string{nil, {"-var", "ssh_password=pw"}} {
		args := append([]string{keysVarFile(), "-var", "base_image=" + base, "-var", "ssh_private_key_file=" + key}, extra...)
		res := env.Validate(t, dir, append(args, qemuExampleDir())...)
		if res.ExitCode != 0 || !strings.Contains(res.Output, "The configuration is valid") {
			t.Fatalf("packer validate example/qemu %v (exit %d):\n%s", extra, res.ExitCode, res.Output)
		}
	}
	checkFormat(t, env, qemuExampleDir())
}

// TestOpenStackExampleValidate runs packer validate on example/openstack with
// packer-plugin-openstack installed. The builder logs in to Keystone while it validates: a
// stand-in identity service on loopback issues the token (validate touches nothing else).
func TestOpenStackExampleValidate(t *testing.T) {
	env := packertest.New(t)
	env.InstallPeer(t, "openstack", "github.com/hashicorp/openstack")
	var logins atomic.Int32
	keystone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v3/auth/tokens" {
			http.NotFound(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		logins.Add(1)
		w.Header().Set("X-Subject-Token", "cw-e2e-token")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"token": map[string]any{
			"expires_at": "2099-01-01T00:00:00.000000Z", "methods": []string{"password"}, "catalog": []any{},
			"user":    map[string]any{"id": "u", "name": "cw", "domain": map[string]string{"id": "default"}},
			"project": map[string]any{"id": "p", "name": "cw", "domain": map[string]string{"id": "default"}}}})
	}))
	defer keystone.Close()
	validate := func(args ...string) packertest.Result {
		t.Helper()
		cmd := env.Command(t.Context(), t.TempDir(), append(append([]string{"validate", keysVarFile()}, args...), openstackExampleDir())...)
		cmd.Env = append(cmd.Env, "OS_AUTH_URL="+keystone.URL+"/v3", "OS_USERNAME=cw", "OS_PASSWORD=cw",
			"OS_PROJECT_NAME=cw", "OS_USER_DOMAIN_NAME=Default", "OS_PROJECT_DOMAIN_NAME=Default", "OS_CLOUD=")
		out, err := cmd.CombinedOutput()
		res := packertest.Result{Output: string(out)}
		if err != nil {
			res.ExitCode = cmd.ProcessState.ExitCode()
		}
		return res
	}

	res := validate("-var", `networks=["8d2f3bd4-6f34-4b8e-9a53-a8c0d1a7e6f2"]`)
	if res.ExitCode != 0 || !strings.Contains(res.Output, "The configuration is valid") {
		t.Fatalf("packer validate example/openstack (exit %d):\n%s", res.ExitCode, res.Output)
	}
	if logins.Load() == 0 {
		t.Error("packer validate never logged in to the stand-in Keystone: the openstack builder was not prepared")
	}
	// The builder itself checks ssh_ip_version: the example's variable reaches it.
	res = validate("-var", "ssh_ip_version=5")
	if res.ExitCode == 0 || !strings.Contains(res.Output, "SSH IP version must be either 4 or 6") {
		t.Errorf("packer validate with ssh_ip_version=5: exit %d, want the builder's error:\n%s", res.ExitCode, res.Output)
	}
	checkFormat(t, env, openstackExampleDir())
}

// openstackExampleDir is example/openstack: the pipeline for packer's openstack builder.
func openstackExampleDir() string { return filepath.Join(exampleDir(), "openstack") }

// checkFormat checks that the templates in dir are in packer fmt's canonical form.
func checkFormat(t *testing.T, env *packertest.Env, dir string) {
	t.Helper()
	cmd := env.Command(t.Context(), dir, "fmt", "-check", "-diff", ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("packer fmt -check %s: %v\n%s", dir, err, out)
	}
}
