package neutronlab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// ProxyPort is where the router's metadata proxy (haproxy) listens behind the REDIRECT.
const ProxyPort = "9697"

// Metadata is a Nova-like metadata service for one instance: Nova's paths, listings and 404s
// (nova/api/metadata/base.py, handler.py), served where Neutron's proxies listen. Nova itself
// cannot run here; the guest sees the same answers.
type Metadata struct {
	spec     Spec
	userData []byte

	mu       sync.Mutex
	requests []Request
}

// Request is one request the service answered.
type Request struct {
	Time   time.Time
	Remote string // the client's address, as the proxy saw it
	Local  string // the address it was sent to, after any REDIRECT
	Path   string
	Status int
}

func newMetadata(s Spec) *Metadata { return &Metadata{spec: s, userData: s.UserData} }

// Requests returns the requests answered so far, in order.
func (m *Metadata) Requests() []Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.requests)
}

// Asked returns the requests for path.
func (m *Metadata) Asked(path string) []Request {
	var out []Request
	for _, r := range m.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (m *Metadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := m.serve(w, r.URL.Path)
	local := ""
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		local = a.String()
	}
	m.mu.Lock()
	m.requests = append(m.requests, Request{Time: time.Now(), Remote: r.RemoteAddr, Local: local, Path: r.URL.Path, Status: status})
	m.mu.Unlock()
}

// serve answers one path and returns the status it sent.
func (m *Metadata) serve(w http.ResponseWriter, path string) int {
	text := func(s string) int {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.Write([]byte(s))
		return http.StatusOK
	}
	jsonDoc := func(b []byte) int {
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
		return http.StatusOK
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case path == "/":
		return text(strings.Join(append(slices.Clone(EC2Versions), "latest"), "\n"))
	case parts[0] == "openstack" && len(parts) == 1:
		return text(strings.Join(append(slices.Clone(OpenStackVersions), "latest"), "\n"))
	case parts[0] == "openstack" && knownVersion(parts[1]) && len(parts) == 2:
		return text(strings.Join(openStackFiles(parts[1], m.userData != nil), "\n"))
	case parts[0] == "openstack" && knownVersion(parts[1]) && len(parts) == 3:
		if !slices.Contains(openStackFiles(parts[1], m.userData != nil), parts[2]) {
			return notFound(w)
		}
		switch parts[2] {
		case "meta_data.json":
			return jsonDoc(MetaData(m.spec))
		case "network_data.json":
			return jsonDoc(NetworkData(m.spec))
		case "vendor_data.json":
			return jsonDoc(VendorData(m.spec))
		case "vendor_data2.json":
			return jsonDoc([]byte("{}"))
		case "password":
			return text("")
		case "user_data":
			w.Header().Set("Content-Type", "text/plain")
			w.Write(m.userData)
			return http.StatusOK
		}
	case (parts[0] == "latest" || slices.Contains(EC2Versions, parts[0])) && len(parts) == 2 && parts[1] == "user-data":
		if m.userData == nil {
			return notFound(w)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(m.userData)
		return http.StatusOK
	case (parts[0] == "latest" || slices.Contains(EC2Versions, parts[0])) && len(parts) >= 2 && parts[1] == "meta-data":
		return m.serveEC2(w, parts[2:], text)
	case (parts[0] == "latest" || slices.Contains(EC2Versions, parts[0])) && len(parts) == 1:
		listing := "meta-data/"
		if m.userData != nil {
			listing += "\nuser-data"
		}
		return text(listing)
	}
	return notFound(w)
}

// serveEC2 answers /<version>/meta-data/<path>: the EC2 tree of EC2MetaData, as Nova's handler
// walks it: a folder lists its keys (a sub-folder with a trailing /), a list is one item a line,
// a leaf its value.
func (m *Metadata) serveEC2(w http.ResponseWriter, path []string, text func(string) int) int {
	var node any
	d := json.NewDecoder(bytes.NewReader(EC2MetaData(m.spec)))
	d.UseNumber()
	if err := d.Decode(&node); err != nil {
		panic(err) // our own JSON
	}
	for _, p := range path {
		if p == "" {
			continue
		}
		dir, ok := node.(map[string]any)
		if !ok {
			return notFound(w)
		}
		if node, ok = dir[p]; !ok {
			return notFound(w)
		}
	}
	switch v := node.(type) {
	case map[string]any:
		var keys []string
		for k, sub := range v {
			if _, ok := sub.(map[string]any); ok {
				k += "/"
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return text(strings.Join(keys, "\n"))
	case []any:
		items := make([]string, len(v))
		for i, x := range v {
			items[i] = fmt.Sprint(x)
		}
		return text(strings.Join(items, "\n"))
	}
	return text(fmt.Sprint(node))
}

// notFound is Nova's answer to a path it does not have (InvalidMetadataPath, webob's 404).
func notFound(w http.ResponseWriter) int {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte("404 Not Found\n\nThe resource could not be found.\n\n   "))
	return http.StatusNotFound
}

// serveMetadata puts the service where Neutron's proxies listen: on a routed network, the
// router's haproxy on :9697 (dual stack) behind the L3 agent's nat REDIRECT of port 80 for both
// metadata addresses; on an isolated one, the DHCP port holding 169.254.169.254/32 and
// fe80::a9fe:a9fe/64, with haproxy on both at port 80.
func (l *Lab) serveMetadata(t testing.TB) {
	t.Helper()
	if !l.Spec.Isolated {
		mustExec(t, l.Router, "iptables", "-t", "nat", "-A", "PREROUTING", "-d", MetadataCIDR4, "-i", "qr-+",
			"-p", "tcp", "-m", "tcp", "--dport", "80", "-j", "REDIRECT", "--to-ports", ProxyPort)
		mustExec(t, l.Router, "ip6tables", "-t", "nat", "-A", "PREROUTING", "-d", MetadataAddr6+"/64", "-i", "qr-+",
			"-p", "tcp", "-m", "tcp", "--dport", "80", "-j", "REDIRECT", "--to-ports", ProxyPort)
		l.listen(t, l.Router, "tcp", ":"+ProxyPort)
		return
	}
	l.DHCPPort.AddAddr(t, MetadataCIDR4)
	l.DHCPPort.AddAddr(t, MetadataAddr6+"/64")
	l.listen(t, l.DHCP, "tcp4", MetadataAddr4+":80")
	l.listen(t, l.DHCP, "tcp6", "["+MetadataAddr6+"%"+l.DHCPPort.Name+"]:80")
}

// listen serves the metadata on addr in ns until the test ends.
func (l *Lab) listen(t testing.TB, ns *netnstest.NS, network, addr string) {
	t.Helper()
	var ln net.Listener
	err := ns.Do(func() (err error) {
		ln, err = (&net.ListenConfig{}).Listen(context.Background(), network, addr)
		return err
	})
	if err != nil {
		t.Fatalf("neutronlab: metadata listener %s: %v", addr, err)
	}
	srv := &http.Server{Handler: l.Metadata, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
}
