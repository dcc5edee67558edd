package metadata

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/fuzztest"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

const userData = "#cloud-config\nclearwater:\n  force_ipv6: true\n"

// network builds a client and a metadata-server namespace. The server end gets 192.0.2.1/24 and,
// when asked, 169.254.169.254/32 and fe80::a9fe:a9fe; the client reaches 169.254.169.254 through
// 192.0.2.1, as an OpenStack instance does through its router.
func network(t testing.TB, v4, v6 bool) (srv, cli *netnstest.Link) {
	srv, cli = netnstest.Veth(t, netnstest.New(t), netnstest.New(t), netnstest.VethConfig{})
	srv.AddAddr(t, "192.0.2.1/24")
	cli.AddAddr(t, "192.0.2.2/24")
	if v4 {
		srv.AddAddr(t, "169.254.169.254/32")
		cli.NS.IP(t, "route", "add", "169.254.169.254/32", "via", "192.0.2.1")
	}
	if v6 {
		srv.AddAddr(t, "fe80::a9fe:a9fe/64")
	}
	cli.LinkLocal(t, 5*time.Second)
	return srv, cli
}

// serve answers HTTP on addr ("169.254.169.254:80" or "[fe80::a9fe:a9fe%IF]:80") in the server's
// namespace until the test ends (closing the server ends the requests' contexts).
func serve(t testing.TB, srv *netnstest.Link, addr string, h http.HandlerFunc) {
	var l net.Listener
	if err := srv.NS.Do(func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: h}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
}

// wait is a handler that answers body after d, or gives up when the client goes away.
func wait(d time.Duration, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
			w.Write([]byte(body))
		case <-r.Context().Done():
		}
	}
}

func v6addr(l *netnstest.Link) string { return "[fe80::a9fe:a9fe%" + l.Name + "]:80" }

func userDataHandler(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != Path {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}
}

// fetch runs Fetch in the client's namespace.
func fetch(t *testing.T, cli *netnstest.Link, timeout time.Duration) (data []byte, source string, took time.Duration, err error) {
	t.Helper()
	derr := cli.NS.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		data, source, err = Fetch(ctx, cli.Name)
		took = time.Since(start)
		return nil
	})
	if derr != nil {
		t.Fatal(derr)
	}
	t.Logf("source %q, %d bytes, err %v, in %v", source, len(data), err, took)
	return data, source, took, err
}

func TestFetch(t *testing.T) {
	t.Run("v4-only", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, false)
		serve(t, srv, "169.254.169.254:80", userDataHandler(userData))
		data, source, _, err := fetch(t, cli, 5*time.Second)
		if err != nil || string(data) != userData || source != "http://169.254.169.254"+Path {
			t.Errorf("got %q from %q, err %v", data, source, err)
		}
	})
	t.Run("v6-only", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, false, true)
		serve(t, srv, v6addr(srv), userDataHandler(userData))
		data, source, _, err := fetch(t, cli, 5*time.Second)
		want := "http://[fe80::a9fe:a9fe%" + cli.Name + "]" + Path
		if err != nil || string(data) != userData || source != want {
			t.Errorf("got %q from %q, err %v; want it from %q", data, source, err, want)
		}
	})
	t.Run("both-in-parallel", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, true)
		// IPv4 answers only after 3 s: an answer from IPv6 before that shows both were asked at
		// once.
		serve(t, srv, "169.254.169.254:80", wait(3*time.Second, "from v4"))
		serve(t, srv, v6addr(srv), userDataHandler("from v6"))
		data, source, _, err := fetch(t, cli, 5*time.Second)
		if err != nil || string(data) != "from v6" || !strings.Contains(source, "fe80::a9fe:a9fe") {
			t.Errorf("got %q from %q, err %v; want the IPv6 answer", data, source, err)
		}
	})
	t.Run("404", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, false)
		serve(t, srv, "169.254.169.254:80", http.NotFound)
		data, _, _, err := fetch(t, cli, 5*time.Second)
		if !errors.Is(err, ErrNoUserData) || data != nil {
			t.Errorf("got %q, err %v; want ErrNoUserData", data, err)
		}
	})
	t.Run("500", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, true)
		fail := func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}
		serve(t, srv, "169.254.169.254:80", fail)
		serve(t, srv, v6addr(srv), fail)
		data, _, _, err := fetch(t, cli, 5*time.Second)
		if err == nil || errors.Is(err, ErrNoUserData) || !strings.Contains(err.Error(), "HTTP 500") || data != nil {
			t.Errorf("got %q, err %v; want an error naming HTTP 500", data, err)
		}
	})
	for name, chunked := range map[string]bool{"huge-content-length": false, "huge-chunked": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, cli := network(t, true, true)
			huge := func(w http.ResponseWriter, r *http.Request) {
				body := strings.Repeat("x", 1<<20)
				if !chunked {
					w.Header().Set("Content-Length", "1048576")
				}
				for i := 0; i < len(body); i += 8192 {
					if _, err := w.Write([]byte(body[i : i+8192])); err != nil {
						return
					}
					w.(http.Flusher).Flush()
				}
			}
			serve(t, srv, "169.254.169.254:80", huge)
			serve(t, srv, v6addr(srv), huge)
			data, _, _, err := fetch(t, cli, 5*time.Second)
			if err == nil || !strings.Contains(err.Error(), "limit") || data != nil {
				t.Errorf("got %d bytes, err %v; want an error naming the limit", len(data), err)
			}
		})
	}
	t.Run("at-the-openstack-limit", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, false)
		body := strings.Repeat("y", 65535)
		serve(t, srv, "169.254.169.254:80", userDataHandler(body))
		data, _, _, err := fetch(t, cli, 5*time.Second)
		if err != nil || string(data) != body {
			t.Errorf("got %d bytes, err %v; want all 65535", len(data), err)
		}
	})
	t.Run("slow-server", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, true)
		serve(t, srv, "169.254.169.254:80", wait(30*time.Second, "late"))
		serve(t, srv, v6addr(srv), wait(30*time.Second, "late"))
		const timeout = time.Second
		_, _, took, err := fetch(t, cli, timeout)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v, want the deadline", err)
		}
		// Not a speed target: a fetch that outlives its context by seconds is hung.
		if took > timeout+time.Second {
			t.Errorf("took %v with a %v context", took, timeout)
		}
	})
	t.Run("no-such-interface", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, false)
		serve(t, srv, "169.254.169.254:80", userDataHandler(userData))
		var data []byte
		var err error
		cli.NS.Do(func() error { data, _, err = Fetch(context.Background(), "nosuch0"); return nil })
		if err != nil || string(data) != userData {
			t.Errorf("got %q, err %v; want IPv4 to answer though the interface for IPv6 is missing", data, err)
		}
	})
	t.Run("no-service", func(t *testing.T) {
		t.Parallel()
		_, cli := network(t, false, false)
		_, _, _, err := fetch(t, cli, 2*time.Second)
		if err == nil || errors.Is(err, ErrNoUserData) || !strings.Contains(err.Error(), "169.254.169.254") ||
			!strings.Contains(err.Error(), "fe80::a9fe:a9fe") {
			t.Errorf("err %v, want one naming both addresses", err)
		}
	})
}

func TestReadResponse(t *testing.T) {
	cases := []struct {
		name, resp, want, err string
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "hello", ""},
		{"to-eof", "HTTP/1.0 200 OK\r\n\r\nhello\nworld", "hello\nworld", ""},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-T: 1\r\n\r\n", "hello world", ""},
		{"lf-only", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "ok", ""},
		{"empty-200", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "", ""},
		{"404", "HTTP/1.1 404 Not Found\r\n\r\n", "", "no user-data"},
		{"503", "HTTP/1.1 503 Service Unavailable\r\n\r\n", "", "HTTP 503"},
		{"not-http", "SSH-2.0-OpenSSH\r\n", "", "not an HTTP/1.x"},
		{"short-body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "", "10-byte body"},
		{"bad-length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "", "bad Content-Length"},
		{"two-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "", "bad Content-Length"},
		{"gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "", "unsupported Transfer-Encoding"},
		{"bad-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "", "bad chunk size"},
		{"chunk-no-crlf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd", "", "CRLF"},
		{"huge-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffff\r\n", "", "limit"},
		{"eof-in-head", "HTTP/1.1 200 OK\r\nContent-", "", "unexpected EOF"},
		{"bad-header", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "", "bad header"},
		{"long-line", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 5000) + "\r\n\r\n", "", "longer than"},
		{"many-headers", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: y\r\n", 101) + "\r\n", "", "header lines"},
		{"huge-to-eof", "HTTP/1.0 200 OK\r\n\r\n" + strings.Repeat("z", MaxSize+1), "", "limit"},
	}
	for _, c := range cases {
		data, err := readResponse(bufio.NewReaderSize(strings.NewReader(c.resp), maxLine))
		if c.err == "" {
			if err != nil || string(data) != c.want {
				t.Errorf("%s: got %q, %v; want %q", c.name, data, err, c.want)
			}
		} else if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: got %q, %v; want an error with %q", c.name, data, err, c.err)
		}
	}
}

// FuzzReadResponse: any bytes from a server give data within the limit or an error, never a
// panic.
func FuzzReadResponse(f *testing.F) {
	fuzztest.LimitMinimizing(f)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Fuzz(func(t *testing.T, b []byte) {
		data, err := readResponse(bufio.NewReaderSize(strings.NewReader(string(b)), maxLine))
		if err == nil && len(data) > MaxSize {
			t.Fatalf("%d bytes accepted, over the limit", len(data))
		}
	})
}

// BenchmarkFetch times a fetch when both addresses answer.
func BenchmarkFetch(b *testing.B) {
	srv, cli := network(b, true, true)
	serve(b, srv, "169.254.169.254:80", userDataHandler(userData))
	serve(b, srv, v6addr(srv), userDataHandler(userData))
	b.ResetTimer()
	err := cli.NS.Do(func() error {
		for range b.N {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			data, _, err := Fetch(ctx, cli.Name)
			cancel()
			if err != nil || string(data) != userData {
				return errors.Join(errors.New("fetch failed"), err)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
