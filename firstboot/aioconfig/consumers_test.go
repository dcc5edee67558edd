package aioconfig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// What Clearwater's own scripts do with the files the helper writes, with Debian's daemons
// standing in for Clearwater's. Upstream's scripts are not run here: what they derive from our
// files is stated as data (file and line in Metaswitch's repositories; see
// ../shared/reference/clearwater-consumers.md).
//
// clearwater-etcd's init (clearwater-etcd debian/clearwater-etcd.init.d:140-141,152-157,413,
// 440-441,457-461) takes ip=${management_local_ip:-$local_ip} and, for a new cluster whose
// etcd_cluster lists ip, runs etcd with
//
//	--listen-client-urls http://0.0.0.0:4000 --advertise-client-urls http://<ip>:4000
//	--data-dir /var/lib/clearwater-etcd/<ip> --name <ip with . as -> --debug
//	--initial-cluster <name>=http://<ip>:2380, --initial-cluster-state new
//	--initial-advertise-peer-urls http://<ip>:2380 --listen-peer-urls http://<ip>:2380
//
// and monit's poll_etcd.sh (clearwater-etcd .../bin/poll_etcd.sh:21-30) asks
// http://<ip>:4000/v2/stats/self and greps '"name":"<ip>"' (a regular expression: its dots match
// the name's dashes), or with --quorum PUTs value=True to
// http://<ip>:4000/v2/keys/clearwater/<ip>/liveness-check.
type etcdCase struct {
	addr string   // the chosen address
	ip   string   // ${management_local_ip:-$local_ip} after `. local_config`
	args []string // what the init runs etcd with; DATA stands for /var/lib/clearwater-etcd
}

var etcdCases = []etcdCase{
	{"10.0.0.5", "10.0.0.5", []string{
		"--listen-client-urls", "http://0.0.0.0:4000", "--advertise-client-urls", "http://10.0.0.5:4000",
		"--data-dir", "DATA/10.0.0.5", "--name", "10-0-0-5", "--debug",
		"--initial-cluster", "10-0-0-5=http://10.0.0.5:2380,", "--initial-cluster-state", "new",
		"--initial-advertise-peer-urls", "http://10.0.0.5:2380", "--listen-peer-urls", "http://10.0.0.5:2380"}},
	{"2001:db8::5", "127.0.0.1", []string{
		"--listen-client-urls", "http://0.0.0.0:4000", "--advertise-client-urls", "http://127.0.0.1:4000",
		"--data-dir", "DATA/127.0.0.1", "--name", "127-0-0-1", "--debug",
		"--initial-cluster", "127-0-0-1=http://127.0.0.1:2380,", "--initial-cluster-state", "new",
		"--initial-advertise-peer-urls", "http://127.0.0.1:2380", "--listen-peer-urls", "http://127.0.0.1:2380"}},
}

// unbracketedV6Args is what the init derived from an IPv6 local_ip before the helper put etcd on
// loopback (issue 27): Debian's etcd must refuse it, or this test proves nothing.
var unbracketedV6Args = []string{
	"--listen-client-urls", "http://0.0.0.0:4000", "--advertise-client-urls", "http://2001:db8::5:4000",
	"--data-dir", "DATA/2001:db8::5", "--name", "2001:db8:", "--debug",
	"--initial-cluster", "2001:db8:=http://2001:db8::5:2380,", "--initial-cluster-state", "new",
	"--initial-advertise-peer-urls", "http://2001:db8::5:2380", "--listen-peer-urls", "http://2001:db8::5:2380"}

// standIn is what Debian's etcd 3.4 needs beyond the init's arguments to stand in for
// Clearwater's etcd 3.1.7: the v2 API, which 3.4 turns off by default and which the managers and
// poll_etcd.sh use.
var standIn = []string{"--enable-v2=true"}

// sourced returns what bash sees after sourcing the files, as upstream's /etc/clearwater/config
// shim sources them: ${management_local_ip:-$local_ip} and $etcd_cluster.
func sourced(t *testing.T, files ...string) (ip, cluster string) {
	t.Helper()
	script := ""
	for i := range files {
		script += fmt.Sprintf(". \"$%d\"; ", i+1)
	}
	out, err := exec.Command("bash", append([]string{"-c", script + `printf '%s\n%s\n' "${management_local_ip:-$local_ip}" "$etcd_cluster"`, "bash"}, files...)...).Output()
	if err != nil {
		t.Fatalf("sourcing %v: %v", files, err)
	}
	f := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(f) != 2 {
		t.Fatalf("sourcing %v printed %q", files, out)
	}
	return f[0], f[1]
}

// consumerNS makes a namespace whose lo carries the chosen address, as a node's interface would.
func consumerNS(t *testing.T, a netip.Addr) *netnstest.NS {
	t.Helper()
	ns := netnstest.New(t)
	if a.Is6() {
		ns.IP(t, "addr", "add", a.String()+"/128", "dev", "lo", "nodad")
	} else {
		ns.IP(t, "addr", "add", a.String()+"/32", "dev", "lo")
	}
	return ns
}

// httpIn is an HTTP client whose connections are made inside ns.
func httpIn(ns *netnstest.NS) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := ns.Do(func() (err error) {
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

// dial returns why a TCP connection to addr inside ns fails, or nil.
func dial(ns *netnstest.NS, addr string) error {
	return ns.Do(func() error {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
}

func reachable(ns *netnstest.NS, addr string) bool { return dial(ns, addr) == nil }

func get(c *http.Client, method, url, body string) (string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func etcdArgs(args []string, data string) []string {
	out := make([]string, 0, len(args)+len(standIn))
	for _, a := range args {
		out = append(out, strings.Replace(a, "DATA", data, 1))
	}
	return append(out, standIn...)
}

// Debian's etcd started with exactly the arguments upstream's init derives from the helper's
// local_config comes up, in both families, and answers monit's poll_etcd.sh on its URLs. On
// IPv6 only the peer port is loopback-only; the client port listens on every address.
func TestEtcdRunsOnTheHelpersConfig(t *testing.T) {
	netnstest.Require(t)
	etcd := netnstest.Binary(t, "etcd", "apt-get install etcd-server")
	for _, tc := range etcdCases {
		t.Run(tc.addr, func(t *testing.T) {
			a := mustAddr(tc.addr)
			root := newRoot(t, map[string]string{LocalConfig: localTemplate, SharedConfig: sharedTemplate})
			apply(t, root, Values{Address: a, Hostname: "cw-aio"})
			ip, cluster := sourced(t, filepath.Join(root, SharedConfig), filepath.Join(root, LocalConfig))
			if ip != tc.ip || cluster != tc.ip {
				t.Fatalf("local_config gives management ip %q and etcd_cluster %q; the init needs %q for both (a new cluster needs its ip in etcd_cluster)", ip, cluster, tc.ip)
			}
			ns := consumerNS(t, a)
			p := ns.Start(t, etcd, etcdArgs(tc.args, t.TempDir())...)
			c := httpIn(ns)
			stats := "http://" + tc.ip + ":4000/v2/stats/self"
			name := regexp.MustCompile(`"name":"` + tc.ip + `"`) // grep's pattern, dots and all
			deadline := time.Now().Add(20 * time.Second)
			for {
				body, err := get(c, http.MethodGet, stats, "")
				if err == nil && name.MatchString(body) {
					break
				}
				if done, why := p.Exited(); done || time.Now().After(deadline) {
					t.Fatalf("poll_etcd.sh's %s: %v %q (etcd exited: %v %v)\n%s", stats, err, body, done, why, p.Output())
				}
				time.Sleep(100 * time.Millisecond)
			}
			key := "/clearwater/" + tc.ip + "/liveness-check"
			body, err := get(c, http.MethodPut, "http://"+tc.ip+":4000/v2/keys"+key, "value=True")
			if want := `"key":"` + key + `","value":"True"`; err != nil || !strings.Contains(body, want) {
				t.Errorf("poll_etcd.sh --quorum: %v %q, want %q", err, body, want)
			}
			// What is reachable where: the client port on every address (0.0.0.0 is dual-stack in
			// Go), the peer port only on the management address.
			for _, addr := range []string{"127.0.0.1:4000", net.JoinHostPort(tc.addr, "4000"), net.JoinHostPort(tc.ip, "2380")} {
				if !reachable(ns, addr) {
					t.Errorf("%s is not reachable", addr)
				}
			}
			if a.Is6() && reachable(ns, net.JoinHostPort(a.String(), "2380")) {
				t.Errorf("etcd's peer port answers on %s; it should listen on loopback only", a)
			}
		})
	}
	t.Run("unbracketed IPv6 is refused", func(t *testing.T) {
		ns := consumerNS(t, mustAddr("2001:db8::5"))
		p := ns.Start(t, etcd, etcdArgs(unbracketedV6Args, t.TempDir())...)
		deadline := time.Now().Add(10 * time.Second)
		for {
			if done, _ := p.Exited(); done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("etcd took the unbracketed IPv6 URLs: the stand-in would not catch issue 27\n%s", p.Output())
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// Chronos binds http.bind-address from chronos.conf (default 0.0.0.0) as cpp-common's HttpStack
// does: the family that getaddrinfo gives the value, no IPV6_V6ONLY (libevhtp's listener does not
// set it). Sprout asks 127.0.0.1:7253 (sprout src/main.cpp:1587) and monit's poll_chronos.sh asks
// [local_ip]:7253 (chronos .../bin/poll_chronos.sh:13-14): both must answer.
func TestChronosAnswersSproutAndMonit(t *testing.T) {
	netnstest.Require(t)
	// The file the helper writes, as data: none on IPv4, [http] bind-address = :: on IPv6.
	bindOf := map[bool]string{false: "0.0.0.0", true: "::"}
	for _, addr := range []string{"10.0.0.5", "2001:db8::5"} {
		t.Run(addr, func(t *testing.T) {
			a := mustAddr(addr)
			root := newRoot(t, nil)
			apply(t, root, Values{Address: a, Hostname: "cw-aio"})
			conf, err := readOptional(root, ChronosConfig)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{false: "", true: "[http]\nbind-address = ::\n"}[a.Is6()]; conf != want {
				t.Fatalf("%s = %q, want %q", ChronosConfig, conf, want)
			}
			ns := consumerNS(t, a)
			listenAsChronos(t, ns, bindOf[a.Is6()], 7253)
			for _, who := range []string{"127.0.0.1:7253", net.JoinHostPort(addr, "7253")} {
				if err := dial(ns, who); err != nil {
					t.Errorf("chronos bound to %s does not answer %s: %v", bindOf[a.Is6()], who, err)
				}
			}
		})
	}
	t.Run("the default does not answer monit on IPv6", func(t *testing.T) {
		ns := consumerNS(t, mustAddr("2001:db8::5"))
		listenAsChronos(t, ns, "0.0.0.0", 7253)
		if reachable(ns, "[2001:db8::5]:7253") {
			t.Fatal("an IPv4 socket answered IPv6: the test cannot tell the fix from the bug")
		}
	})
}

func readOptional(root, name string) (string, error) {
	b, err := rootfs.ReadFileIn(root, name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return string(b), err
}

// listenAsChronos opens chronos' listening socket inside ns; it is closed when the test ends.
func listenAsChronos(t *testing.T, ns *netnstest.NS, bind string, port int) {
	t.Helper()
	a := netip.MustParseAddr(bind)
	var fd int
	err := ns.Do(func() (err error) {
		var sa unix.Sockaddr
		family := unix.AF_INET
		if a.Is6() {
			family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: port, Addr: a.As16()}
		} else {
			sa = &unix.SockaddrInet4{Port: port, Addr: a.As4()}
		}
		if fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err == nil {
			if err = unix.Bind(fd, sa); err == nil {
				err = unix.Listen(fd, 16)
			}
		}
		return err
	})
	if fd > 0 {
		t.Cleanup(func() { unix.Close(fd) })
	}
	if err != nil {
		t.Fatalf("listen on %s port %d: %v", bind, port, err)
	}
}

// Debian's dnsmasq, as upstream runs it on an AIO (clearwater-infrastructure's dnsmasq.clearwater.conf:
// interface=lo, bind-interfaces) and serving the hosts block the helper wrote, answers the AIO's
// names in the chosen family with the chosen address, over loopback IPv4 and IPv6.
func TestDnsmasqAnswersTheAIONames(t *testing.T) {
	netnstest.Require(t)
	dnsmasq := netnstest.Binary(t, "dnsmasq", "apt-get install dnsmasq-base")
	names := []string{"cw-aio.", "scscf.cw-aio.", "bgcf.cw-aio.", "icscf.cw-aio."}
	for _, addr := range []string{"10.0.0.5", "2001:db8::5"} {
		t.Run(addr, func(t *testing.T) {
			a := mustAddr(addr)
			root := newRoot(t, map[string]string{Hosts: hostsTemplate})
			apply(t, root, Values{Address: a, Hostname: "cw-aio"})
			ns := consumerNS(t, a)
			p := ns.Start(t, dnsmasq, "--no-daemon", "--conf-file=/dev/null", "--no-hosts",
				"--addn-hosts="+filepath.Join(root, Hosts), "--interface=lo", "--bind-interfaces",
				"--no-resolv", "--user=root", "--group=root", "--pid-file="+filepath.Join(t.TempDir(), "pid"))
			if err := p.WaitOutput("started, version", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			family, other := "ip4", "ip6"
			if a.Is6() {
				family, other = "ip6", "ip4"
			}
			for _, server := range []string{"127.0.0.1:53", "[::1]:53"} {
				for _, name := range names {
					got, err := lookup(t, ns, server, family, name)
					if err != nil || len(got) != 1 || got[0] != a {
						t.Errorf("%s %s via %s = %v, %v; want %s", family, name, server, got, err, a)
					}
					if got, _ := lookup(t, ns, server, other, name); len(got) != 0 {
						t.Errorf("%s %s via %s = %v; want no address of the other family", other, name, server, got)
					}
				}
			}
		})
	}
}

// lookup asks server inside ns for name's addresses of network ("ip4" or "ip6").
func lookup(t *testing.T, ns *netnstest.NS, server, network, name string) ([]netip.Addr, error) {
	t.Helper()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var c net.Conn
		err := ns.Do(func() (err error) {
			c, err = (&net.Dialer{}).DialContext(ctx, "udp", server)
			return err
		})
		return c, err
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return r.LookupNetIP(ctx, network, name)
}
