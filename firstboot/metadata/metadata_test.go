package metadata

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/live"
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

// ask runs Ask in the client's namespace, with the namespace's address and route changes as
// changes.
func ask(t *testing.T, cli *netnstest.Link, timeout time.Duration) (ans Answer, took time.Duration, err error) {
	t.Helper()
	derr := cli.NS.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		changes, serr := live.Subscribe(ctx)
		if serr != nil {
			return serr
		}
		start := time.Now()
		ans, err = Ask(ctx, cli.Name, changes)
		took = time.Since(start)
		return nil
	})
	if derr != nil {
		t.Fatal(derr)
	}
	t.Logf("source %q, %d bytes, 404 %t, network_data %q (%v), %d attempts, err %v, in %v", ans.Source,
		len(ans.UserData), ans.NoUserData, ans.NetworkData, ans.NetworkDataErr, ans.Attempts, err, took)
	return ans, took, err
}

const networkData = `{"links":[],"networks":[{"id":"network0","type":"ipv4_dhcp","link":"tap1"}],"services":[]}`

// nova answers as Nova does: the user-data (404 when body is ""), network_data.json, 404 elsewhere.
func nova(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == Path && body != "":
			w.Write([]byte(body))
		case r.URL.Path == NetworkDataPath:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(networkData))
		default:
			http.NotFound(w, r)
		}
	}
}

func TestAsk(t *testing.T) {
	t.Run("v4-only", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, false)
		serve(t, srv, "169.254.169.254:80", nova(userData))
		ans, _, err := ask(t, cli, 5*time.Second)
		if err != nil || string(ans.UserData) != userData || ans.Source != "http://169.254.169.254"+Path ||
			string(ans.NetworkData) != networkData {
			t.Errorf("got %+v, err %v", ans, err)
		}
	})
	t.Run("v6-only", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, false, true)
		serve(t, srv, v6addr(srv), nova(userData))
		ans, _, err := ask(t, cli, 5*time.Second)
		want := "http://[fe80::a9fe:a9fe%" + cli.Name + "]" + Path
		if err != nil || string(ans.UserData) != userData || ans.Source != want {
			t.Errorf("got %+v, err %v; want it from %q", ans, err, want)
		}
	})
	t.Run("both-in-parallel", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, true)
		// IPv4 answers only after 3 s: an answer from IPv6 before that shows both were asked at
		// once.
		serve(t, srv, "169.254.169.254:80", wait(3*time.Second, "from v4"))
		serve(t, srv, v6addr(srv), nova("from v6"))
		ans, _, err := ask(t, cli, 5*time.Second)
		if err != nil || string(ans.UserData) != "from v6" || !strings.Contains(ans.Source, "fe80::a9fe:a9fe") {
			t.Errorf("got %+v, err %v; want the IPv6 answer", ans, err)
		}
	})
	t.Run("404-is-an-answer", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, false)
		serve(t, srv, "169.254.169.254:80", nova(""))
		ans, took, err := ask(t, cli, 5*time.Second)
		if err != nil || !ans.NoUserData || ans.UserData != nil || string(ans.NetworkData) != networkData {
			t.Errorf("got %+v, err %v; want no user-data and the network_data.json", ans, err)
		}
		// Not a speed target: a 404 that did not end the wait would take the whole 5 s.
		if took > 2*time.Second {
			t.Errorf("a 404 took %v to end the wait", took)
		}
	})
	t.Run("500-is-retried", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, true)
		var calls atomic.Int32
		fail := func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			http.Error(w, "boom", http.StatusInternalServerError)
		}
		serve(t, srv, "169.254.169.254:80", fail)
		serve(t, srv, v6addr(srv), fail)
		ans, _, err := ask(t, cli, 2*time.Second)
		if err == nil || !strings.Contains(err.Error(), "HTTP 500") || ans.UserData != nil {
			t.Errorf("got %+v, err %v; want an error naming HTTP 500", ans, err)
		}
		if calls.Load() < 3 {
			t.Errorf("the service was asked %d times in 2 s: no retry", calls.Load())
		}
	})
	t.Run("500-then-200", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, false)
		var calls atomic.Int32
		serve(t, srv, "169.254.169.254:80", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == Path && calls.Add(1) <= 2 {
				http.Error(w, "metadata agent not ready", http.StatusServiceUnavailable)
				return
			}
			nova(userData)(w, r)
		})
		ans, _, err := ask(t, cli, 5*time.Second)
		if err != nil || string(ans.UserData) != userData || calls.Load() != 3 {
			t.Errorf("got %+v after %d requests, err %v; want the user-data at the third", ans, calls.Load(), err)
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
			ans, took, err := ask(t, cli, 5*time.Second)
			if err == nil || !strings.Contains(err.Error(), "limit") || ans.UserData != nil {
				t.Errorf("got %d bytes, err %v; want an error naming the limit", len(ans.UserData), err)
			}
			if took > 2*time.Second {
				t.Errorf("an answer over the limit was retried for %v", took)
			}
		})
	}
	t.Run("at-the-openstack-limit", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, false)
		body := strings.Repeat("y", 65535)
		serve(t, srv, "169.254.169.254:80", nova(body))
		ans, _, err := ask(t, cli, 5*time.Second)
		if err != nil || string(ans.UserData) != body {
			t.Errorf("got %d bytes, err %v; want all 65535", len(ans.UserData), err)
		}
	})
	t.Run("huge-head", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, false)
		serve(t, srv, "169.254.169.254:80", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Junk", strings.Repeat("j", 64<<10))
			w.Write([]byte(userData))
		})
		ans, _, err := ask(t, cli, time.Second)
		if err == nil || ans.UserData != nil {
			t.Errorf("got %+v, err %v; want a refused head", ans, err)
		}
	})
	t.Run("slow-server", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, true)
		serve(t, srv, "169.254.169.254:80", wait(30*time.Second, "late"))
		serve(t, srv, v6addr(srv), wait(30*time.Second, "late"))
		const timeout = time.Second
		_, took, err := ask(t, cli, timeout)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v, want the deadline", err)
		}
		// Not a speed target: an Ask that outlives its context by seconds is hung.
		if took > timeout+time.Second {
			t.Errorf("took %v with a %v context", took, timeout)
		}
	})
	t.Run("no-such-interface", func(t *testing.T) {
		t.Parallel()
		srv, cli := network(t, true, false)
		serve(t, srv, "169.254.169.254:80", nova(userData))
		var ans Answer
		var err error
		cli.NS.Do(func() error { ans, err = Ask(context.Background(), "nosuch0", nil); return nil })
		if err != nil || string(ans.UserData) != userData {
			t.Errorf("got %+v, err %v; want IPv4 to answer though the interface for IPv6 is missing", ans, err)
		}
	})
	t.Run("no-service", func(t *testing.T) {
		t.Parallel()
		_, cli := network(t, false, false)
		_, _, err := ask(t, cli, 2*time.Second)
		if err == nil || !strings.Contains(err.Error(), "169.254.169.254") || !strings.Contains(err.Error(), "fe80::a9fe:a9fe") {
			t.Errorf("err %v, want one naming both addresses", err)
		}
	})
}

// The route to 169.254.169.254 comes after the address, as dhclient-script adds it: the first
// attempts fail with "network is unreachable"; the route change makes Ask try again at once.
func TestAskRouteAddedLate(t *testing.T) {
	srv, cli := network(t, false, false)
	srv.AddAddr(t, "169.254.169.254/32")
	serve(t, srv, "169.254.169.254:80", nova(userData))
	routed := make(chan time.Time, 1)
	go func() {
		time.Sleep(400 * time.Millisecond)
		cli.NS.IP(t, "route", "add", "169.254.169.254/32", "via", "192.0.2.1")
		routed <- time.Now()
	}()
	ans, took, err := ask(t, cli, 5*time.Second)
	if err != nil || string(ans.UserData) != userData || ans.Attempts < 2 {
		t.Fatalf("got %+v, err %v; want the user-data after failed attempts", ans, err)
	}
	if took < 400*time.Millisecond {
		t.Errorf("answered after %v, before the route was added", took)
	}
	t.Logf("answered %v after `ip route add` returned", time.Since(<-routed))
}

// BenchmarkAsk times an Ask when both addresses answer.
func BenchmarkAsk(b *testing.B) {
	srv, cli := network(b, true, true)
	serve(b, srv, "169.254.169.254:80", nova(userData))
	serve(b, srv, v6addr(srv), nova(userData))
	b.ResetTimer()
	err := cli.NS.Do(func() error {
		for range b.N {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ans, err := Ask(ctx, cli.Name, nil)
			cancel()
			if err != nil || string(ans.UserData) != userData {
				return errors.Join(errors.New("fetch failed"), err)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// Over IPv6 the link-local address is tentative for about 2 s after the link comes up (DAD):
// connects fail with "cannot assign requested address" until then, and the address becoming
// usable makes Ask try again.
func TestAskIPv6DuringDAD(t *testing.T) {
	srv, cli := netnstest.Veth(t, netnstest.New(t), netnstest.New(t), netnstest.VethConfig{DADB: netnstest.DADDefault, Down: true})
	srv.Up(t)
	srv.AddAddr(t, "fe80::a9fe:a9fe/64")
	serve(t, srv, v6addr(srv), nova(userData))
	cli.Up(t)
	ans, took, err := ask(t, cli, 5*time.Second)
	if err != nil || string(ans.UserData) != userData || ans.Attempts < 2 {
		t.Fatalf("got %+v, err %v; want the user-data after failed attempts", ans, err)
	}
	if took < 500*time.Millisecond {
		t.Errorf("answered after %v: the link-local address was not in DAD", took)
	}
}
