package release

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeGitHubClient is a client that reaches g the way packer does: through HTTPS_PROXY,
// trusting the CA of SSL_CERT_FILE.
func fakeGitHubClient(t *testing.T, g *FakeGitHub) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(g.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in", g.CAFile)
	}
	proxy, err := url.Parse(g.URL)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func get(t *testing.T, c *http.Client, u string) (int, string, error) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func TestFakeGitHub(t *testing.T) {
	root := t.TempDir()
	tagDir := filepath.Join(root, "acme", "packer-plugin-x", "v1.2.3")
	if err := os.MkdirAll(tagDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tagDir, "asset.zip"), []byte("zip bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := StartFakeGitHub(root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if !strings.HasPrefix(g.URL, "http://127.0.0.1:") {
		t.Errorf("URL %s is not on loopback", g.URL)
	}
	c := fakeGitHubClient(t, g)

	code, body, err := get(t, c, "https://github.com/acme/packer-plugin-x/releases/download/v1.2.3/asset.zip")
	if err != nil || code != 200 || body != "zip bytes" {
		t.Errorf("asset: %d %q %v", code, body, err)
	}
	if code, _, err := get(t, c, "https://github.com/acme/packer-plugin-x/releases/download/v9.9.9/asset.zip"); err != nil || code != 404 {
		t.Errorf("missing asset: %d %v, want 404", code, err)
	}
	code, body, err = get(t, c, "https://api.github.com/repos/acme/packer-plugin-x/git/matching-refs/tags?per_page=100")
	var refs []struct{ Ref string }
	if err != nil || code != 200 || json.Unmarshal([]byte(body), &refs) != nil || len(refs) != 1 || refs[0].Ref != "refs/tags/v1.2.3" {
		t.Errorf("tags: %d %q %v", code, body, err)
	}
	// Nothing else is answered, and nothing is forwarded.
	if _, _, err := get(t, c, "https://example.com/"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("CONNECT example.com: err %v, want the proxy's 403", err)
	}
	if code, _, err := get(t, c, "http://github.com/acme/packer-plugin-x/releases/download/v1.2.3/asset.zip"); err != nil || code != 403 {
		t.Errorf("plain http through the proxy: %d %v, want 403", code, err)
	}
	want := []string{
		"GET github.com /acme/packer-plugin-x/releases/download/v1.2.3/asset.zip 200",
		"GET github.com /acme/packer-plugin-x/releases/download/v9.9.9/asset.zip 404",
		"GET api.github.com /repos/acme/packer-plugin-x/git/matching-refs/tags 200",
		"CONNECT example.com:443  403",
		"GET github.com /acme/packer-plugin-x/releases/download/v1.2.3/asset.zip 403",
	}
	if got := g.Requests(); !slices.Equal(got, want) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
