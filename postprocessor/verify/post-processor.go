// Package verify is the clearwater-verify post-processor: it boots the build's disk image in
// QEMU on each network shape of its cases, reads the verdict that clearwater-firstboot writes on
// the console, and fails the build when the helper chose the wrong family.
package verify

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/status"
)

// Default boot bounds: under TCG a Debian cloud image takes about a minute on an idle core to
// reach the helper, several when the host is shared.
const (
	timeoutTCG = 10 * time.Minute
	timeoutKVM = 5 * time.Minute
)

// PostProcessor is clearwater-verify.
type PostProcessor struct {
	config Config
}

// ConfigSpec returns the HCL spec of Config.
func (p *PostProcessor) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

// Configure decodes and checks the configuration.
func (p *PostProcessor) Configure(raws ...interface{}) error {
	err := config.Decode(&p.config, &config.DecodeOpts{
		PluginType:         "clearwater-verify",
		Interpolate:        true,
		InterpolateContext: &p.config.ctx,
	}, raws...)
	if err != nil {
		return err
	}
	return p.config.prepare()
}

// PostProcess boots every case and returns an artifact that carries the report; the input
// artifact is always kept (the image is what was verified).
func (p *PostProcessor) PostProcess(ctx context.Context, ui packersdk.Ui, in packersdk.Artifact) (packersdk.Artifact, bool, bool, error) {
	c := &p.config
	image, format, err := findImage(in, c.ImagePath)
	if err != nil {
		return nil, true, true, err
	}
	d, timeout, err := p.driver(ui, image, format)
	if err != nil {
		return nil, true, true, err
	}
	cases := c.Cases
	if !c.DefaultCases.False() {
		cases = append(defaultCases(), cases...)
	}
	ui.Say(fmt.Sprintf("clearwater-verify: booting %s (%s) in %d cases under %s, %d at a time, each within %s",
		image, format, len(cases), strings.ToUpper(d.accel), c.Parallel, timeout))
	results := p.runAll(ctx, ui, d, cases, timeout)
	if ctx.Err() != nil {
		return nil, true, true, fmt.Errorf("clearwater-verify: cancelled; every QEMU it started is stopped and its files removed")
	}
	rep := newReport(image, d.accel, results)
	reportPath := c.ReportPath
	if reportPath == "" {
		reportPath = image + ".verify.json"
	}
	if err := rep.write(reportPath); err != nil {
		return nil, true, true, err
	}
	if failed := rep.failures(); len(failed) > 0 {
		return nil, true, true, fmt.Errorf("clearwater-verify: %d of %d cases failed (report: %s):\n\n%s",
			len(failed), len(results), reportPath, strings.Join(failed, "\n\n"))
	}
	ui.Say(fmt.Sprintf("clearwater-verify: all %d cases passed; report %s", len(results), reportPath))
	return newArtifact(in, image, reportPath, rep), true, true, nil
}

// driver chooses the accelerator and the boot bound, and checks the tools.
func (p *PostProcessor) driver(ui packersdk.Ui, image, format string) (*driver, time.Duration, error) {
	c := &p.config
	for _, bin := range []string{c.QemuBinary, c.QemuImgBinary} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, 0, fmt.Errorf("clearwater-verify: %s not found (Debian/Ubuntu: apt-get install qemu-system-x86 qemu-utils; or set qemu_binary and qemu_img_binary)", bin)
		}
	}
	d := &driver{qemu: c.QemuBinary, qemuImg: c.QemuImgBinary, memory: c.Memory, image: image, format: format,
		tempDir: c.TempDir, accel: c.Accelerator}
	if d.accel == accelAuto {
		d.accel = accelTCG
		if ok, why := kvmUsable(); ok {
			d.accel = accelKVM
		} else {
			ui.Message("clearwater-verify: TCG, not KVM: " + why)
		}
	}
	timeout := c.BootTimeout
	if timeout == 0 {
		timeout = map[string]time.Duration{accelKVM: timeoutKVM, accelTCG: timeoutTCG}[d.accel]
	}
	return d, timeout, nil
}

// result is one case's outcome.
type result struct {
	Case
	boot
	expected, expectedWhy string
	fail                  string // why the case failed; "" when it passed
}

// runAll boots the cases, c.Parallel at a time, and says in the UI when each starts and ends.
func (p *PostProcessor) runAll(ctx context.Context, ui packersdk.Ui, d *driver, cases []Case, timeout time.Duration) []result {
	results := make([]result, len(cases))
	sem := make(chan struct{}, p.config.Parallel)
	var wg sync.WaitGroup
	for i, k := range cases {
		// Places are taken in the cases' order, so that they start as listed.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return results
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ui.Say(fmt.Sprintf("clearwater-verify: case %s: booting on %s, %s", k.Name, k.Network, describeUserData(k)))
			r := result{Case: k, boot: d.run(ctx, k.Name, networks[k.Network], k.userData(), timeout)}
			p.judge(&r)
			if r.fail == "" {
				ui.Say(fmt.Sprintf("clearwater-verify: case %s: passed: %s %s in %.0fs (%s)", k.Name, r.verdict.Family, r.verdict.Address, r.took.Seconds(), r.verdict.Reason))
			} else if ctx.Err() == nil {
				ui.Error(fmt.Sprintf("clearwater-verify: case %s: FAILED after %.0fs: %s", k.Name, r.took.Seconds(), firstLine(r.fail)))
			}
			results[i] = r
		}()
	}
	wg.Wait()
	return results
}

// judge compares a boot's verdict with what the case expects and says why it fails, if it does.
func (p *PostProcessor) judge(r *result) {
	var baked *status.Baked
	if r.verdict != nil {
		baked = r.verdict.Baked
	}
	if t := p.config.BakedForceIPv6; t != config.TriUnset {
		b := status.Baked{ForceIPv6: t.True(), OnMissingIPv6: "fallback"}
		if baked != nil {
			b.OnMissingIPv6 = baked.OnMissingIPv6
		}
		baked = &b
	}
	var err error
	r.expected, r.expectedWhy, err = expected(r.Case, baked)
	switch {
	case r.err != nil && r.expected == "":
		r.fail = "expected what the image was baked with, decided nothing: " + r.err.Error()
	case r.err != nil:
		r.fail = "expected " + r.expected + ", decided nothing: " + r.err.Error()
	case err != nil:
		r.fail = err.Error()
	case r.expected != r.verdict.Family:
		r.fail = fmt.Sprintf("expected %s, decided %s", r.expected, decided(r.verdict))
	}
}

// decided says what the helper decided, from which toggle, and why.
func decided(v *status.Verdict) string {
	s := v.Family
	if v.Address != "" {
		s += " " + v.Address + " on " + v.Interface
	}
	return fmt.Sprintf("%s (force_ipv6 %t from %s): %s", s, v.ForceIPv6, v.ForceSource, v.Reason)
}

func describeUserData(k Case) string {
	switch ud := k.userData(); {
	case len(ud) == 0:
		return "no user-data"
	case strings.Contains(string(ud), "force_ipv6: true"):
		return "user-data force_ipv6 true"
	case strings.Contains(string(ud), "force_ipv6: false"):
		return "user-data force_ipv6 false"
	default:
		return fmt.Sprintf("user-data of %d bytes", len(ud))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// findImage picks the one qcow2 or raw disk image among the artifact's files (or image_path).
func findImage(in packersdk.Artifact, imagePath string) (string, string, error) {
	files := in.Files()
	if imagePath != "" {
		files = []string{imagePath}
	}
	var images, formats []string
	for _, f := range files {
		if format := diskFormat(f); format != "" {
			images, formats = append(images, f), append(formats, format)
		}
	}
	switch {
	case len(images) == 1:
		return images[0], formats[0], nil
	case imagePath != "":
		return "", "", fmt.Errorf("clearwater-verify: image_path %s: not a qcow2 or raw disk image (no qcow2 header, no boot sector signature)", imagePath)
	case len(images) == 0:
		return "", "", fmt.Errorf("clearwater-verify: the artifact of %s holds no qcow2 or raw disk image among its files %q: it boots a local disk image (the clearwater-chroot or qemu builder's, or a file)", in.BuilderId(), in.Files())
	}
	return "", "", fmt.Errorf("clearwater-verify: the artifact of %s holds %d disk images %q: set image_path to the one to boot", in.BuilderId(), len(images), images)
}

// diskFormat is "qcow2" for a file with qcow2's magic, "raw" for one of at least 1 MiB whose first
// sector ends with the boot signature (MBR, or GPT's protective MBR), "" otherwise.
func diskFormat(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var head [512]byte
	n, _ := f.ReadAt(head[:], 0)
	switch {
	case n >= 4 && string(head[:4]) == "QFI\xfb":
		return "qcow2"
	case n == 512 && head[510] == 0x55 && head[511] == 0xaa:
		if st, err := f.Stat(); err == nil && st.Size() >= 1<<20 {
			return "raw"
		}
	}
	return ""
}
