package qemu

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// reportUserData makes the guest report on its serial console once cloud-init is done, leave
// a file on its disk, and power off. The report runs as a transient unit ordered after
// cloud-final, so `cloud-init status --wait` does not wait on itself.
const reportUserData = `#cloud-config
bootcmd:
  - echo CW-BOOTCMD-RAN > /dev/ttyS0
write_files:
  - path: /usr/local/sbin/cw-report
    permissions: '0755'
    content: |
      #!/bin/sh
      exec >/dev/ttyS0 2>&1
      # SLAAC may finish after DHCPv4: give it 30 s at most. (QEMU's fec0:: prefix is
      # site-scoped: look for any address that is not link-local or loopback.)
      for i in $(seq 30); do ip -6 -o addr | grep -qv -e ' fe80:' -e ' ::1/' && break; sleep 1; done
      echo ===CW-STATUS-BEGIN===
      cloud-init status --long --wait
      echo ===CW-STATUS-END===
      echo ===CW-NET-BEGIN===
      ip -o addr | grep -v -e ' lo ' -e ' fe80:'
      echo ===CW-NET-END===
      echo ===CW-NETWORKD-BEGIN===
      cat /etc/systemd/network/*.network
      echo ===CW-NETWORKD-END===
      # Where the boot's time went (BenchmarkBootToReport -v prints it).
      echo ===CW-PROFILE-BEGIN===
      systemd-analyze time
      systemd-analyze blame --no-pager | head -n 25
      systemd-analyze critical-chain --no-pager cloud-final.service
      cloud-init analyze show | grep -e '^Starting stage' -e 'Finished stage' -e 'Total Time'
      cloud-init analyze blame | head -n 40
      echo ===CW-PROFILE-END===
      mkdir -p /var/lib/cw-test
      cat /var/lib/cloud/data/instance-id > /var/lib/cw-test/proof
      sync
      echo CW-POWEROFF
      systemctl poweroff
runcmd:
  - [systemd-run, --no-block, --unit=cw-report, --property=After=cloud-final.service, /usr/local/sbin/cw-report]
`

// bootReport boots the Debian image with opts' seed, waits for the report and the power-off,
// and checks what the guest said and left on its disk. It returns the time from QEMU's start
// to the end of the report, and the processor time QEMU used from its start to its exit.
func bootReport(t testing.TB, opts Options, datasource, instanceID string) (wall, cpu time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	vm, err := Boot(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Stop()
	// From QEMU's start: Boot may have waited for a place (Slot) while other guests ran.
	start := time.Now()
	if _, err := vm.WaitFor(ctx, regexp.MustCompile(`CW-BOOTCMD-RAN`)); err != nil {
		t.Fatal(err)
	}
	t.Logf("bootcmd ran %.1fs after QEMU started", time.Since(start).Seconds())
	if _, err := vm.WaitFor(ctx, regexp.MustCompile(`===CW-NETWORKD-END===`)); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("report done %.1fs after QEMU started", took.Seconds())
	log, _ := vm.Serial()
	status, _ := Between(log, "===CW-STATUS-BEGIN===", "===CW-STATUS-END===")
	if !strings.Contains(status, "status: done") || !strings.Contains(status, datasource) {
		t.Errorf("cloud-init status --long:\n%s\nwant status: done and %s", status, datasource)
	}
	// QEMU's user network gives 10.0.2.15 by DHCPv4 and fec0::/64 by router advertisement:
	// networkd, as cloud-init configured it, took both.
	if net, _ := Between(log, "===CW-NET-BEGIN===", "===CW-NET-END==="); opts.Network.Tap == "" &&
		(!strings.Contains(net, "inet 10.0.2.15/24") || !strings.Contains(net, "inet6 fec0::")) {
		t.Errorf("guest addresses:\n%s\nwant 10.0.2.15/24 (DHCPv4) and fec0:: (SLAAC)", net)
	}
	if networkd, _ := Between(log, "===CW-NETWORKD-BEGIN===", "===CW-NETWORKD-END==="); !strings.Contains(networkd, "DHCP=ipv4") {
		t.Errorf("systemd-networkd files:\n%s\nwant cloud-init's, with DHCP=ipv4", networkd)
	}
	if err := vm.Wait(ctx); err != nil {
		t.Fatalf("guest power-off: %v", err)
	}
	t.Logf("QEMU used %.1fs of processor time", vm.CPUTime().Seconds())
	if log, _ := vm.Serial(); testing.Verbose() {
		profile, _ := Between(log, "===CW-PROFILE-BEGIN===", "===CW-PROFILE-END===")
		t.Logf("where the boot's time went:\n%s", profile)
	}
	proof, err := vm.ReadFile(ctx, "/var/lib/cw-test/proof")
	if err != nil || strings.TrimSpace(string(proof)) != instanceID {
		t.Errorf("proof file on the guest's disk = %q, %v; want instance-id %q", proof, err, instanceID)
	}
	if _, err := vm.ReadFile(ctx, "/var/lib/cloud/instance/boot-finished"); err != nil {
		t.Errorf("cloud-init did not finish: %v", err)
	}
	return took, vm.CPUTime()
}

func TestBootDebianNoCloud(t *testing.T) {
	t.Parallel()
	image := debianImage(t)
	id := "iid-" + randomID()
	bootReport(t, Options{Image: image, TempDir: t.TempDir(), NoCloud: &NoCloud{
		UserData: []byte(reportUserData),
		MetaData: fmt.Appendf(nil, "instance-id: %s\nlocal-hostname: cw-nocloud\n", id),
	}}, "DataSourceNoCloud", id)
}

func TestBootDebianConfigDrive(t *testing.T) {
	t.Parallel()
	image := debianImage(t)
	id := randomID()
	bootReport(t, Options{Image: image, TempDir: t.TempDir(), ConfigDrive: &ConfigDrive{
		UserData: []byte(reportUserData),
		MetaData: map[string]any{"uuid": id, "hostname": "cw-configdrive"},
	}}, "DataSourceConfigDrive", id)
}

// BenchmarkBootToReport prints the time from QEMU's start to the guest's report (cloud-init
// done) under TCG, as s/boot, and the processor time QEMU used for the whole boot to power-off
// (cpu-s/boot), which a loaded host stretches less. With -v it prints where the boot's time went
// (systemd-analyze, cloud-init analyze):
//
//	go test -run '^$' -bench BootToReport -benchtime 1x -v ./test/qemu/
func BenchmarkBootToReport(b *testing.B) {
	image := debianImage(b)
	var wall, cpu time.Duration
	for b.Loop() {
		id := "iid-" + randomID()
		w, c := bootReport(b, Options{Image: image, TempDir: b.TempDir(), NoCloud: &NoCloud{
			UserData: []byte(reportUserData),
			MetaData: fmt.Appendf(nil, "instance-id: %s\n", id),
		}}, "DataSourceNoCloud", id)
		wall, cpu = wall+w, cpu+c
	}
	b.ReportMetric(wall.Seconds()/float64(b.N), "s/boot")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/boot")
}

// BenchmarkDebianImageCached prints how long images/debian/build.sh takes when the image is
// already cached (the first call may build it).
func BenchmarkDebianImageCached(b *testing.B) {
	debianImage(b)
	for b.Loop() {
		if _, err := DebianImage(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
	}
}

var debianOnce struct {
	sync.Once
	image string
	err   error
}

// debianImage builds the base image once per test binary. Building needs root: without it
// (and without CI=true) the test skips.
func debianImage(t testing.TB) string {
	t.Helper()
	RequireTools(t)
	if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
		t.Skip("building the Debian image needs root")
	}
	debianOnce.Do(func() {
		start := time.Now()
		var progress io.Writer // a cold build's debootstrap output is long: shown with -v only
		if testing.Verbose() {
			progress = os.Stderr
		}
		debianOnce.image, debianOnce.err = DebianImage(context.Background(), progress)
		t.Logf("images/debian/build.sh: %.1fs", time.Since(start).Seconds())
	})
	if debianOnce.err != nil {
		t.Fatal(debianOnce.err)
	}
	return debianOnce.image
}
