package aioconfig

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func v6() Values { return Values{Address: mustAddr("2001:db8::5"), Hostname: "cw-aio"} }

// An IPv6 decision puts etcd and its clients on loopback IPv4 and chronos on both families; a
// switch back to IPv4 takes away exactly that, and every operator's line stays.
func TestIPv6ThenIPv4(t *testing.T) {
	operatorChronos := "# operator\n[logging]\nlevel = 5\n[http]\nthreads = 10\nbind-address = 0.0.0.0\n"
	root := newRoot(t, map[string]string{LocalConfig: localTemplate + "#management_local_ip=10.9.9.9\n", ChronosConfig: operatorChronos})
	v := v6()
	res := apply(t, root, v)
	local := readFileT(t, root, LocalConfig)
	for _, want := range []string{"\netcd_cluster=127.0.0.1\n", "\nmanagement_local_ip=127.0.0.1\n", "\n#management_local_ip=10.9.9.9\n"} {
		if !strings.Contains(local, want) {
			t.Errorf("IPv6 local_config lacks %q:\n%s", want, local)
		}
	}
	if got, want := readFileT(t, root, ChronosConfig), "# operator\n[logging]\nlevel = 5\n[http]\nthreads = 10\nbind-address = ::\n"; got != want {
		t.Errorf("IPv6 chronos.conf = %q, want %q", got, want)
	}
	for _, w := range IPv6Limits {
		if !slices.Contains(res.Warnings, w) {
			t.Errorf("IPv6 warnings %q lack %q", res.Warnings, w)
		}
	}

	v.Previous = v.Address
	if res := apply(t, root, v); res.Changed {
		t.Errorf("a second IPv6 run changed %+v", res.Changes)
	}

	v.Address = mustAddr("10.0.0.5")
	res = apply(t, root, v)
	local = readFileT(t, root, LocalConfig)
	if strings.Contains(local, "\nmanagement_local_ip=") || !strings.Contains(local, "\netcd_cluster=10.0.0.5\n") ||
		!strings.Contains(local, "\n#management_local_ip=10.9.9.9\n") {
		t.Errorf("IPv4 local_config:\n%s", local)
	}
	if got, want := readFileT(t, root, ChronosConfig), "# operator\n[logging]\nlevel = 5\n[http]\nthreads = 10\n"; got != want {
		t.Errorf("IPv4 chronos.conf = %q, want %q", got, want)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("IPv4 warnings: %q", res.Warnings)
	}
}

// A chronos.conf that only the helper wrote goes with the switch to IPv4; an operator's
// management_local_ip other than ours stays on IPv4 and is replaced on IPv6.
func TestIPv4RemovesOurChronosConfig(t *testing.T) {
	root := newRoot(t, map[string]string{LocalConfig: "management_local_ip=10.9.9.9\n"})
	v := v6()
	apply(t, root, v)
	if got := readFileT(t, root, LocalConfig); !strings.HasPrefix(got, "management_local_ip=127.0.0.1\n") {
		t.Errorf("IPv6 local_config = %q", got)
	}
	v.Previous, v.Address = v.Address, mustAddr("10.0.0.5")
	res := apply(t, root, v)
	if _, err := os.Lstat(filepath.Join(root, ChronosConfig)); !os.IsNotExist(err) {
		t.Errorf("chronos.conf after the switch to IPv4: %v, want removed", err)
	}
	if !slices.Contains(res.Changes, Change{ChronosConfig, Remove}) {
		t.Errorf("changes %+v lack the removal of %s", res.Changes, ChronosConfig)
	}
	// An operator's value on IPv4 is theirs.
	writeFile(t, root, LocalConfig, "management_local_ip=10.9.9.9\n"+readFileT(t, root, LocalConfig))
	if res := apply(t, root, v); res.Changed {
		t.Errorf("an operator's management_local_ip on IPv4 was changed: %+v", res)
	}
	if got := readFileT(t, root, LocalConfig); !strings.HasPrefix(got, "management_local_ip=10.9.9.9\n") {
		t.Errorf("local_config = %q", got)
	}
}

func TestSetChronosBind(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"missing file", "", "[http]\nbind-address = ::\n"},
		{"no section", "[logging]\nlevel = 2", "[logging]\nlevel = 2\n[http]\nbind-address = ::"},
		{"section without key", "[http]\nthreads = 50\n[logging]\nlevel = 2\n", "[http]\nthreads = 50\nbind-address = ::\n[logging]\nlevel = 2\n"},
		{"last section without key", "[http]\r\nthreads = 50\r\n", "[http]\r\nthreads = 50\r\nbind-address = ::\r\n"},
		{"duplicates", "[http]\n  bind-address=1.2.3.4\r\nbind-address = 0.0.0.0\n", "[http]\nbind-address = ::\r\n"},
		{"other sections' keys stay", "[gr]\nbind-address = 1.2.3.4\n[http]\n#bind-address = 9.9.9.9\n", "[gr]\nbind-address = 1.2.3.4\n[http]\n#bind-address = 9.9.9.9\nbind-address = ::\n"},
		{"already set", "[http]\nbind-address = ::\n", "[http]\nbind-address = ::\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(setChronosBind([]byte(tt.in), ChronosBindAny)); got != tt.want {
				t.Errorf("setChronosBind(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDropChronosBind(t *testing.T) {
	tests := []struct {
		in, want string
		gone     bool
	}{
		{"[http]\nbind-address = ::\n", "[http]\n", true},
		{"[http]\nbind-address = 10.0.0.5\n", "[http]\nbind-address = 10.0.0.5\n", false},
		{"[gr]\nbind-address = ::\n", "[gr]\nbind-address = ::\n", false},
		{"[http]\nbind-address=::\n\n[logging]\nlevel = 2\n", "[http]\n\n[logging]\nlevel = 2\n", false},
	}
	for _, tt := range tests {
		got := dropChronosBind([]byte(tt.in), ChronosBindAny)
		if string(got) != tt.want || onlyOurs(got) != tt.gone {
			t.Errorf("dropChronosBind(%q) = %q (only ours %v), want %q (%v)", tt.in, got, onlyOurs(got), tt.want, tt.gone)
		}
	}
}

// A shared_config change on a boot that keeps etcd's data is reverted by upstream's config
// manager: the status says so, and what to run; with no etcd data, or a new address (etcd's data
// is cleared), the file wins and nothing is said.
func TestSharedConfigRevertWarning(t *testing.T) {
	for _, family := range []Values{v4(), v6()} {
		t.Run(family.Address.String(), func(t *testing.T) {
			root := newRoot(t, map[string]string{LocalConfig: localTemplate, SharedConfig: sharedTemplate})
			v := family
			apply(t, root, v)
			v.Previous = v.Address
			writeFile(t, root, EtcdData+"/member/snap/db", "etcd")
			v.Hostname = "ims"
			res := apply(t, root, v)
			if res.ClusterReset {
				t.Fatalf("same address, cluster reset: %+v", res)
			}
			w := revertWarnings(res.Warnings)
			if len(w) != 1 || !strings.Contains(w[0], "sprout_hostname=ims upstream_hostname=scscf.ims scscf_uri=") ||
				!strings.Contains(w[0], "cw-config upload shared_config") || strings.Contains(w[0], "xdms_hostname") {
				t.Errorf("warnings %q: want one that names the changed keys and cw-config", res.Warnings)
			}
			if w := revertWarnings(apply(t, root, v).Warnings); len(w) != 0 {
				t.Errorf("nothing changed, yet %q", w)
			}
			v.Hostname = "ims2"
			if err := os.RemoveAll(filepath.Join(root, EtcdData)); err != nil {
				t.Fatal(err)
			}
			if w := revertWarnings(apply(t, root, v).Warnings); len(w) != 0 {
				t.Errorf("no etcd data, yet %q", w)
			}
		})
	}
}

func revertWarnings(ws []string) []string {
	var out []string
	for _, w := range ws {
		if strings.HasPrefix(w, SharedConfig+" changed") {
			out = append(out, w)
		}
	}
	return out
}

// With net.ipv6.bindv6only on, "::" is IPv6-only and sprout's 127.0.0.1 goes unanswered: a warning.
func TestBindV6OnlyWarning(t *testing.T) {
	for _, value := range []string{"0\n", "1\n"} {
		root := newRoot(t, map[string]string{BindV6Only: value})
		res := apply(t, root, v6())
		got := slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.HasPrefix(w, "net.ipv6.bindv6only is 1") })
		if want := value == "1\n"; got != want {
			t.Errorf("bindv6only %q: warned %v, want %v (%q)", value, got, want, res.Warnings)
		}
	}
}
