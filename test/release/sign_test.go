package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// signingKey is a throwaway GPG key in a keyring of its own: what the release workflow imports
// from the GPG_PRIVATE_KEY secret, made here so that the release's signing runs for real.
type signingKey struct {
	home        string // GNUPGHOME
	fingerprint string
}

// env is what GoReleaser's signs section needs to sign with the key.
func (k signingKey) env() []string {
	return []string{"GNUPGHOME=" + k.home, "GPG_FINGERPRINT=" + k.fingerprint}
}

// newSigningKey makes an ed25519 signing key without a passphrase. The keyring's folder is
// short (gpg-agent's socket path has a length limit), and its agent is stopped at cleanup.
func newSigningKey(t *testing.T) signingKey {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		skipOrFail(t, "signing the release needs gpg (apt-get install gpg)")
	}
	home, err := os.MkdirTemp("", "cw-gpg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"GNUPGHOME=" + home}
	t.Cleanup(func() {
		// The agent gpg started for this keyring: stopped by its own control tool, by keyring.
		cmd := exec.Command("gpgconf", "--kill", "all")
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("gpgconf --kill all: %v\n%s", err, out)
		}
		os.RemoveAll(home)
	})
	command(t, time.Minute, home, env, "gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
		"--quick-gen-key", "clearwater release test <release-test@example.invalid>", "ed25519", "sign", "1d")
	var fpr string
	for _, l := range strings.Split(command(t, time.Minute, home, env, "gpg", "--batch", "--with-colons", "--list-secret-keys"), "\n") {
		if f := strings.Split(l, ":"); f[0] == "fpr" && len(f) > 9 && fpr == "" {
			fpr = f[9]
		}
	}
	if fpr == "" {
		t.Fatal("gpg made no key")
	}
	return signingKey{home: home, fingerprint: fpr}
}

// checkSignature checks that the release carries a detached signature of sums, made by key, and
// that the signature does not fit a SHA256SUMS changed by one byte.
func checkSignature(t *testing.T, key signingKey, sums string) {
	t.Helper()
	sig := sums + ".sig"
	if _, err := os.Stat(sig); err != nil {
		t.Fatalf("the release has no signature of its SHA256SUMS: %v", err)
	}
	verify := func(file string) (string, error) {
		cmd := exec.CommandContext(t.Context(), "gpg", "--batch", "--status-fd", "1", "--verify", sig, file)
		cmd.Env = append(os.Environ(), key.env()...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := verify(sums)
	if err != nil || !strings.Contains(out, "[GNUPG:] VALIDSIG "+key.fingerprint) {
		t.Errorf("gpg --verify %s: %v\n%s", filepath.Base(sig), err, out)
	}
	data, err := os.ReadFile(sums)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(t.TempDir(), filepath.Base(sums))
	data[0] ^= 1
	if err := os.WriteFile(tampered, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := verify(tampered); err == nil || !strings.Contains(out, "[GNUPG:] BADSIG") {
		t.Errorf("gpg --verify accepted the signature for a changed SHA256SUMS (%v):\n%s", err, out)
	}
}
