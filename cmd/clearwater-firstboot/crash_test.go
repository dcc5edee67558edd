package main

import (
	"encoding/json"
	"errors"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/aioconfig"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A run leaves the temp files that an earlier, killed run left in the folders it writes in (only
// the helper's, by their name) removed, and says so; plan, which writes nothing, leaves them.
func TestRunSweepsTempFilesOfAKilledRun(t *testing.T) {
	root := t.TempDir()
	runAt(t, root, addrA)
	ours := []string{"etc/clearwater/.local_config.clearwater-firstboot-3k9x", "etc/.hosts.clearwater-firstboot-zz9",
		"var/lib/clearwater-firstboot/.state.json.clearwater-firstboot-1", "run/clearwater-firstboot/.status.json.clearwater-firstboot-2"}
	theirs := []string{"etc/clearwater/.local_config.swp", "etc/.hosts.clearwater-firstboot-ABC", "etc/hosts.clearwater-firstboot-1",
		"var/lib/.x.clearwater-firstboot-1"}
	for _, n := range append(append([]string(nil), ours...), theirs...) {
		put(t, root, n, "half a file")
	}
	if r := cli(t, decideArgs("plan", root, snap("dual-stack")...)...); len(temps(t, root)) != len(ours)+1 || r.code != exitcode.Decided {
		t.Errorf("plan = %d, temp files now %v: plan must not sweep", r.code, temps(t, root))
	}
	r := runAt(t, root, addrA)
	if left := temps(t, root); len(left) != 1 || !strings.HasSuffix(left[0], theirs[3]) {
		t.Errorf("after the run, temp files %v; want only %s, which is in no folder the helper writes", left, theirs[3])
	}
	for _, n := range ours {
		if r.rep.Reason("removed /"+n) == "" {
			t.Errorf("the report does not say that /%s was removed: %q", n, r.rep.Reasons)
		}
	}
	for _, n := range theirs {
		if _, err := os.Stat(filepath.Join(root, n)); err != nil {
			t.Errorf("%s is not the helper's, but: %v", n, err)
		}
	}
}

// SIGKILL at random points of many runs that alternate two addresses: no file is ever torn (each
// is the whole old one or the whole new one), and no temp file survives the next run that ends.
func TestKilledRunsNeverTearAFile(t *testing.T) {
	bin, root := manyRuns(t, "120 runs of the helper")
	start := time.Now()
	runBinary(t, nil, decideArgs("run", root, snap(snapOf[addrA])...)...)
	full := time.Since(start)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	deadline := time.Now().Add(2 * time.Minute)
	var runs, killed, leftTemps, sweeps int
	for i := 0; i < 120 && time.Now().Before(deadline); i++ {
		runs++
		addr := []string{addrB, addrA}[i%2]
		cmd := exec.Command(bin, decideArgs("run", root, snap(snapOf[addr])...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Most of a run is starting up and reading: aim the kills at its second half, where it writes.
		time.Sleep(full/3 + time.Duration(rng.Int64N(int64(full))))
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var ee *exec.ExitError
		wasKilled := errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signaled()
		switch {
		case wasKilled:
			killed++
		case err != nil:
			t.Fatalf("run %d (seed %d): %v", i, seed, err)
		}
		checkWhole(t, root, i, seed)
		n := len(temps(t, root))
		if !wasKilled && n > 0 {
			t.Fatalf("run %d (seed %d) ended and left temp files: %v", i, seed, temps(t, root))
		}
		leftTemps += n
		if n > 0 {
			sweeps++
		}
	}
	// The next run that ends sweeps what the last killed ones left.
	runBinary(t, nil, decideArgs("run", root, snap(snapOf[addrA])...)...)
	checkWhole(t, root, runs, seed)
	if left := temps(t, root); len(left) > 0 {
		t.Errorf("temp files survived a complete run: %v", left)
	}
	t.Logf("seed %d: %d runs of about %v, %d killed, %d temp files seen after %d of them; no file torn, every temp file swept",
		seed, runs, full.Round(time.Millisecond), killed, leftTemps, sweeps)
	if killed == 0 {
		t.Errorf("no run was killed: the test did not test anything")
	}
}

// manyRuns skips a test of many runs of the helper's binary under -short, else returns the
// binary and a root whose /etc/hosts holds only localhost.
func manyRuns(t *testing.T, what string) (bin, root string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: " + what)
	}
	root = t.TempDir()
	put(t, root, "etc/hosts", "127.0.0.1 localhost\n")
	return helperBinary(t), root
}

var (
	hostsWhole = regexp.MustCompile(`\A127\.0\.0\.1 localhost\n(#\+clearwater-aio\n(192\.0\.2\.10|2001:db8:1::ff:fe00:2) cw-aio scscf\.cw-aio bgcf\.cw-aio icscf\.cw-aio\n#-clearwater-aio\n)?\z`)
	localWhole = regexp.MustCompile(`\Alocal_ip=(\S+)\npublic_ip=(\S+)\npublic_hostname=cw-aio\netcd_cluster=(\S+)\n(management_local_ip=127\.0\.0\.1\n)?\z`)
)

// checkWhole fails the test when a file the helper writes is not whole: each is either missing
// (a run killed before it first wrote it) or the complete content for one of the two addresses.
func checkWhole(t *testing.T, root string, run int, seed uint64) {
	t.Helper()
	fail := func(name, content string) {
		t.Fatalf("after run %d (seed %d), %s is torn:\n%q", run, seed, name, content)
	}
	get := func(name string) (string, bool) {
		b, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, os.ErrNotExist) {
			return "", false
		} else if err != nil {
			t.Fatal(err)
		}
		return string(b), true
	}
	if s, ok := get("etc/hosts"); !hostsWhole.MatchString(s) || !ok {
		fail("/etc/hosts", s)
	}
	if s, ok := get("etc/clearwater/local_config"); ok {
		m := localWhole.FindStringSubmatch(s)
		// IPv6: etcd on loopback IPv4 (aioconfig.LoopbackManagement).
		ipv6 := m != nil && strings.Contains(m[1], ":")
		if m == nil || m[1] != m[2] || snapOf[m[1]] == "" ||
			(ipv6 && (m[3] != aioconfig.LoopbackManagement || m[4] == "")) || (!ipv6 && (m[3] != m[1] || m[4] != "")) {
			fail("local_config", s)
		}
	}
	if s, ok := get("etc/chronos/chronos.conf"); ok && s != "[http]\nbind-address = ::\n" {
		fail("chronos.conf", s)
	}
	if s, ok := get("etc/clearwater/shared_config"); ok && (!strings.HasPrefix(s, "sprout_hostname=cw-aio\n") ||
		!strings.HasSuffix(s, "bgcf_uri=\"sip:bgcf.cw-aio:5053;transport=TCP\"\n")) {
		fail("shared_config", s)
	}
	if s, ok := get("var/lib/clearwater-firstboot/state.json"); ok {
		var st state
		if json.Unmarshal([]byte(s), &st) != nil || snapOf[st.Address] == "" {
			fail("state.json", s)
		}
	}
	if s, ok := get("run/clearwater-firstboot/status.json"); ok {
		var rep Report
		if json.Unmarshal([]byte(s), &rep) != nil || snapOf[rep.Address] == "" {
			fail("status.json", s)
		}
	}
}
