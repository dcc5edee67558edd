package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
	"github.com/clearwater-aio/packer-plugin-clearwater/test/qemu"
)

// nobody is the user the post-processor runs as here: pipelines run packer unprivileged, with no
// /dev/kvm, bridge or namespace of the host's.
const nobody = 65534

// verifyBootTimeout bounds each boot of these tests: TCG on the shared 2-core machine took 73 to
// 111 s a boot at load average 8, and over 10 minutes at 25 to 30.
const verifyBootTimeout = "30m"

// verifyParallel is how many guests these tests boot at once: on a host that others load, more
// guests get more of it.
const verifyParallel = "3"

// verifyTemplate verifies an image built elsewhere: the null builder, artifice to make the image
// an artifact, then clearwater-verify with the given body.
const verifyTemplate = `
variable "image" {
  type = string
}
source "null" "image" {
  communicator = "none"
}
build {
  sources = ["source.null.image"]
  post-processors {
    post-processor "artifice" {
      files = [var.image]
    }
    post-processor "clearwater-verify" {
%s
    }
  }
}
`

// verifier runs packer with clearwater-verify as nobody, in a scratch TMPDIR of its own (where
// every overlay, seed and console log goes, so that a test sees what is left behind).
type verifier struct {
	env      *packertest.Env
	dir, tmp string
}

func newVerifier(t *testing.T, body string) *verifier {
	t.Helper()
	qemu.RequireTools(t)
	requireRoot(t) // to become nobody
	env := packertest.New(t)
	v := &verifier{env: env, dir: t.TempDir()}
	v.tmp = filepath.Join(v.dir, "tmp")
	nb := *env
	nb.ConfigDir = filepath.Join(v.dir, "config")
	v.env = &nb
	for _, d := range []string{v.tmp, nb.ConfigDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(v.dir, "verify.pkr.hcl"), fmt.Appendf(nil, verifyTemplate, strings.ReplaceAll(body, "@TMP@", v.tmp)), 0o644); err != nil {
		t.Fatal(err)
	}
	openToAll(t, v.dir, env.PluginPath)
	return v
}

// openToAll lets every user read paths and walk to them: t.TempDir's folders are 0700.
func openToAll(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		for d := filepath.Dir(p); d != "/" && d != "."; d = filepath.Dir(d) {
			if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o005 != 0o005 {
				os.Chmod(d, st.Mode().Perm()|0o055)
			}
		}
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			st, err := os.Stat(path)
			if err != nil {
				return nil
			}
			perm := st.Mode().Perm() | 0o044
			if st.IsDir() || perm&0o100 != 0 {
				perm |= 0o011
			}
			return os.Chmod(path, perm)
		})
	}
}

// command is packer build on image as nobody, of the template in v.dir, or of the given template
// and its arguments.
func (v *verifier) command(ctx context.Context, image string, template ...string) *exec.Cmd {
	if len(template) == 0 {
		template = []string{"."}
	}
	cmd := v.env.Command(ctx, v.dir, append([]string{"build", "-color=false", "-var", "image=" + image}, template...)...)
	cmd.Env = append(cmd.Env, "HOME="+v.tmp, "TMPDIR="+v.tmp)
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
	return cmd
}

// run runs packer build to its end and returns its output and exit code.
func (v *verifier) run(t *testing.T, image string, template ...string) (string, int) {
	t.Helper()
	start := time.Now()
	out, err := v.command(t.Context(), image, template...).CombinedOutput()
	t.Logf("packer build with clearwater-verify (as uid %d): %.0fs", nobody, time.Since(start).Seconds())
	var exit *exec.ExitError
	if err != nil && !isExit(err, &exit) {
		t.Fatalf("packer: %v\n%s", err, out)
	}
	code := 0
	if exit != nil {
		code = exit.ExitCode()
	}
	return string(out), code
}

func isExit(err error, exit **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*exit = e
	return ok
}

// leftovers lists what the post-processor left in the scratch TMPDIR (packer's own cache aside).
func (v *verifier) leftovers(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(v.tmp)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if e.Name() != ".cache" && e.Name() != ".config" {
			left = append(left, e.Name())
		}
	}
	return left
}

// verifyReport is the part of the JSON report the tests read.
type verifyReport struct {
	Passed bool `json:"passed"`
	Cases  []struct {
		Name, Expected, Decided, ForceSource string
		Passed                               bool
		BootSeconds                          float64 `json:"boot_seconds"`
	} `json:"cases"`
}

// fileSHA256 is the hex sha256 of a file.
func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestVerify: the example's output passes example/verify (the default matrix and the IPv6 lab's
// user-data as the example rendered it) through a real packer build, as an unprivileged user,
// under TCG; the report lands beside the image; the image is not written; no
// file is left behind. Then an image that carries a build instance's toggle (the marker that
// cloud-init's write_files leaves on a booted builder) fails on dual-stack without user-data,
// with the right words.
func TestVerify(t *testing.T) {
	b := buildExample(t)
	outDir := filepath.Dir(b.image)
	// The report goes beside the image: the folder is nobody's, the image stays root's and 0644.
	if err := os.Chown(outDir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	sum := fileSHA256(t, b.image)
	v := newVerifier(t, `boot_timeout = "`+verifyBootTimeout+`"
      parallel     = `+verifyParallel)
	ipv6Lab := filepath.Join(filepath.Dir(outDir), "user-data", "ipv6-lab.yaml")
	openToAll(t, b.image, ipv6Lab)
	out, code := v.run(t, b.image, "-var", "ipv6_lab_user_data="+ipv6Lab, "-var", "boot_timeout="+verifyBootTimeout, "-var", "parallel="+verifyParallel,
		filepath.Join(exampleDir(), "verify"))
	if code != 0 {
		// Errorf: the marked image below still gets its run.
		t.Errorf("packer build with clearwater-verify failed (exit %d):\n%s", code, out)
	}
	for _, name := range []string{"dual-stack", "dual-stack-force-true", "dual-stack-force-false", "ipv6-only", "ipv4-only", "ipv6-lab"} {
		for _, w := range []string{"case " + name + ": booting on ", "case " + name + ": passed: "} {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q", w)
			}
		}
	}
	data, err := os.ReadFile(b.image + ".verify.json")
	if err != nil {
		t.Errorf("no report beside the image: %v\n%s", err, out)
	}
	var rep verifyReport
	if err := json.Unmarshal(data, &rep); err != nil || !rep.Passed || len(rep.Cases) != 6 {
		t.Errorf("report: %v\n%s", err, data)
	}
	want := map[string]string{"dual-stack": "ipv4", "dual-stack-force-true": "ipv6", "dual-stack-force-false": "ipv4", "ipv6-only": "ipv6", "ipv4-only": "ipv4", "ipv6-lab": "ipv6"}
	for _, c := range rep.Cases {
		if c.Decided != want[c.Name] || !c.Passed {
			t.Errorf("case %s: decided %q, want %q", c.Name, c.Decided, want[c.Name])
		}
		t.Logf("case %s: %s in %.0fs (TCG)", c.Name, c.Decided, c.BootSeconds)
	}
	if got := fileSHA256(t, b.image); got != sum {
		t.Errorf("the image's sha256 changed: %s, was %s", got, sum)
	}
	if left := v.leftovers(t); len(left) > 0 {
		t.Errorf("left in TMPDIR: %q", left)
	}

	// The same image as a booted builder leaves it: the build instance's user-data forced IPv6,
	// cloud-init wrote upstream's marker, and the reset kept it.
	marker := markedImage(t, b.image)
	openToAll(t, marker)
	if err := os.Chown(filepath.Dir(marker), nobody, nobody); err != nil {
		t.Fatal(err)
	}
	out, code = v.run(t, marker)
	if code == 0 {
		t.Fatalf("an image with a build instance's marker passed:\n%s", out)
	}
	for _, w := range []string{`1 of 5 cases failed`, `case "dual-stack" (dual-stack, no user-data): expected ipv4, decided ipv6 2001:db8:c1ea:`,
		`(force_ipv6 true from marker): chose 2001:db8:c1ea:`, `[expected ipv4: baked not forced]`, `--- console of case dual-stack (end) ---`} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if left := v.leftovers(t); len(left) > 0 {
		t.Errorf("left in TMPDIR: %q", left)
	}
}

// markedImage builds, from image, the image a booted builder leaves when its build instance's
// user-data forced IPv6: upstream's marker in /etc/clearwater (written here as cloud-init's
// write_files does).
func markedImage(t *testing.T, image string) string {
	t.Helper()
	env := packertest.New(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	tmpl := fmt.Sprintf(`
source "clearwater-chroot" "marked" {
  source_image     = %q
  format           = "qcow2"
  output_directory = %q
  image_name       = "marked.qcow2"
}
build {
  sources = ["source.clearwater-chroot.marked"]
  provisioner "shell" {
    inline = ["printf '' > /etc/clearwater/force_ipv6"]
  }
}
`, image, out)
	if err := os.WriteFile(filepath.Join(dir, "marked.pkr.hcl"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	res := env.Build(t, dir, ".")
	if res.ExitCode != 0 {
		t.Fatalf("building the marked image (exit %d):\n%s", res.ExitCode, res.Output)
	}
	return filepath.Join(out, "marked.qcow2")
}

// TestVerifyNoHelper: an image without the helper (the Debian base) fails the build naming the
// case, what was expected and why nothing was decided, with the end of its console; and a build
// interrupted while guests boot stops every QEMU it started and leaves no file.
func TestVerifyNoHelper(t *testing.T) {
	base, err := qemu.DebianImage(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, `
      default_cases = false
      boot_timeout  = "4m"
      report_path   = "@TMP@/report.json"
      case {
        name            = "no-helper"
        network         = "dual-stack"
        expected_family = "ipv4"
      }`)
	report := filepath.Join(v.tmp, "report.json")
	tmpl := filepath.Join(v.dir, "verify.pkr.hcl")
	openToAll(t, base)
	sum := fileSHA256(t, base)
	out, code := v.run(t, base)
	if code == 0 {
		t.Fatalf("an image without the helper passed:\n%s", out)
	}
	for _, w := range []string{`1 of 1 cases failed`, `case "no-helper" (dual-stack, no user-data): expected ipv4, decided nothing: no verdict of clearwater-firstboot on the console within boot_timeout (4m0s)`,
		`--- console of case no-helper (end) ---`} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if _, err := os.Stat(report); err != nil {
		t.Errorf("no report of the failed build: %v", err)
	}
	os.Remove(report)
	if left := v.leftovers(t); len(left) > 0 {
		t.Errorf("left in TMPDIR: %q", left)
	}

	// Cancel: Ctrl-C once two guests boot.
	data, _ := os.ReadFile(tmpl)
	os.WriteFile(tmpl, []byte(strings.Replace(string(data), "default_cases = false", "default_cases = true", 1)), 0o644)
	cmd := v.command(t.Context(), base)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	booting := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc, n := bufio.NewScanner(pipe), 0
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), ": booting on ") {
				if n++; n == 2 {
					close(booting)
				}
			}
		}
	}()
	select {
	case <-booting:
	case <-time.After(3 * time.Minute):
		t.Fatal("no two guests booting after 3m")
	}
	time.Sleep(10 * time.Second)
	pids := qemuPIDs(t, v.tmp)
	if len(pids) != 2 {
		t.Errorf("QEMUs of this build: %v, want 2", pids)
	}
	if err := packertest.Interrupt(cmd); err != nil {
		t.Fatal(err)
	}
	<-readDone
	err = cmd.Wait()
	if err == nil {
		t.Errorf("packer exited 0 after Ctrl-C:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "clearwater-verify: cancelled") {
		t.Errorf("output lacks the cancel:\n%s", log.String())
	}
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("QEMU PID %d still runs after the build was cancelled", pid)
		}
	}
	if left := v.leftovers(t); len(left) > 0 {
		t.Errorf("left in TMPDIR after the cancel: %q", left)
	}
	if got := fileSHA256(t, base); got != sum {
		t.Errorf("the image's sha256 changed: %s, was %s", got, sum)
	}
}

// qemuPIDs lists the QEMU processes whose command line names a file under dir: this test's.
func qemuPIDs(t *testing.T, dir string) []int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	var pids []int
	re := regexp.MustCompile(`^[0-9]+$`)
	for _, e := range entries {
		if !re.MatchString(e.Name()) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), "qemu-system") || !strings.Contains(string(cmdline), dir+"/") {
			continue
		}
		pid, _ := strconv.Atoi(e.Name())
		pids = append(pids, pid)
	}
	return pids
}
