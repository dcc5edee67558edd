package release

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// githubHosts are the only hosts FakeGitHub answers for; it forwards nothing.
var githubHosts = map[string]bool{"api.github.com:443": true, "github.com:443": true}

// FakeGitHub serves GitHub releases from a folder, the way `packer init` fetches them: it is an
// HTTPS proxy on loopback that accepts CONNECT to api.github.com and github.com only and answers
// them itself, with certificates from a throwaway CA. Point a client at it with
// HTTPS_PROXY=URL and SSL_CERT_FILE=CAFile.
//
// Root holds <owner>/<repo>/<tag>/<asset>; api.github.com lists the tag folders as the repo's
// tags (git/matching-refs/tags) and github.com serves releases/download/<tag>/<asset>.
type FakeGitHub struct {
	URL    string // the proxy's URL, for HTTPS_PROXY
	CAFile string // the CA certificate (PEM), for SSL_CERT_FILE

	root    string
	ln      net.Listener
	tlsConf *tls.Config
	inner   *http.Server
	conns   chan net.Conn
	done    chan struct{}
	wg      sync.WaitGroup

	mu       sync.Mutex
	requests []string // "METHOD host path status" of every request, refused ones included
}

// StartFakeGitHub listens on 127.0.0.1 and writes the CA certificate into dir.
func StartFakeGitHub(root, dir string) (*FakeGitHub, error) {
	leaf, caPEM, err := newCerts()
	if err != nil {
		return nil, err
	}
	ca := filepath.Join(dir, "fake-github-ca.pem")
	if err := os.WriteFile(ca, caPEM, 0o644); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &FakeGitHub{
		URL: "http://" + ln.Addr().String(), CAFile: ca, root: root, ln: ln,
		tlsConf: &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12},
		conns:   make(chan net.Conn), done: make(chan struct{}),
	}
	g.inner = &http.Server{Handler: http.HandlerFunc(g.serveGitHub), ReadHeaderTimeout: 10 * time.Second}
	g.wg.Add(2)
	go func() { defer g.wg.Done(); g.inner.Serve(chanListener{g}) }()
	go func() { defer g.wg.Done(); g.acceptLoop() }()
	return g, nil
}

// Close stops the proxy and every connection it serves.
func (g *FakeGitHub) Close() {
	close(g.done)
	g.ln.Close()
	g.inner.Close()
	g.wg.Wait()
}

// Requests returns what was asked so far, one "METHOD host path status" a request.
func (g *FakeGitHub) Requests() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.requests...)
}

func (g *FakeGitHub) record(method, host, p string, status int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = append(g.requests, fmt.Sprintf("%s %s %s %d", method, host, p, status))
}

func (g *FakeGitHub) acceptLoop() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.wg.Add(1)
		go func() { defer g.wg.Done(); g.handleProxy(c) }()
	}
}

// handleProxy reads one proxy request: a CONNECT to a GitHub host becomes a TLS connection that
// the inner server answers; anything else gets 403 and the connection is closed.
func (g *FakeGitHub) handleProxy(c net.Conn) {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		c.Close()
		return
	}
	if req.Method != http.MethodConnect || !githubHosts[req.Host] {
		g.record(req.Method, req.Host, req.URL.Path, http.StatusForbidden)
		fmt.Fprintf(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		c.Close()
		return
	}
	if _, err := fmt.Fprintf(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	select {
	case g.conns <- tls.Server(c, g.tlsConf):
	case <-g.done:
		c.Close()
	}
}

// chanListener hands the tunnelled TLS connections to the inner HTTP server.
type chanListener struct{ g *FakeGitHub }

func (l chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.g.conns:
		return c, nil
	case <-l.g.done:
		return nil, net.ErrClosed
	}
}
func (l chanListener) Close() error   { return nil }
func (l chanListener) Addr() net.Addr { return l.g.ln.Addr() }

// serveGitHub answers the two GitHub hosts from the root folder.
func (g *FakeGitHub) serveGitHub(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	status := http.StatusOK
	defer func() { g.record(r.Method, host, r.URL.Path, status) }()
	parts := strings.Split(strings.Trim(path.Clean(r.URL.Path), "/"), "/")
	switch {
	case host == "api.github.com" && len(parts) == 6 && parts[0] == "repos" && parts[3] == "git" &&
		parts[4] == "matching-refs" && parts[5] == "tags":
		status = g.serveTags(w, parts[1], parts[2])
	case host == "github.com" && len(parts) == 6 && parts[2] == "releases" && parts[3] == "download":
		status = g.serveAsset(w, r, parts[0], parts[1], parts[4], parts[5])
	default:
		status = http.StatusNotFound
		http.NotFound(w, r)
	}
}

// serveTags lists the tag folders of owner/repo as GitHub's git refs.
func (g *FakeGitHub) serveTags(w http.ResponseWriter, owner, repo string) int {
	entries, err := os.ReadDir(filepath.Join(g.root, owner, repo))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	type ref struct {
		Ref    string `json:"ref"`
		URL    string `json:"url"`
		Object struct {
			SHA  string `json:"sha"`
			Type string `json:"type"`
		} `json:"object"`
	}
	refs := []ref{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		var r ref
		r.Ref = "refs/tags/" + e.Name()
		r.URL = fmt.Sprintf("https://api.github.com/repos/%s/%s/git/%s", owner, repo, r.Ref)
		r.Object.SHA, r.Object.Type = strings.Repeat("0", 40), "commit"
		refs = append(refs, r)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(refs)
	return http.StatusOK
}

// serveAsset serves one release asset, or 404.
func (g *FakeGitHub) serveAsset(w http.ResponseWriter, r *http.Request, owner, repo, tag, name string) int {
	p := filepath.Join(g.root, owner, repo, tag, name)
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return http.StatusNotFound
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeFile(w, r, p)
	return http.StatusOK
}

// newCerts makes a CA and a leaf certificate for the GitHub hosts that it signs. The keys live
// only in memory.
func newCerts() (leaf tls.Certificate, caPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return leaf, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "clearwater test/release fake GitHub CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return leaf, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return leaf, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return leaf, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "github.com"},
		DNSNames:  []string{"github.com", "api.github.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return leaf, nil, err
	}
	leaf = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return leaf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}
