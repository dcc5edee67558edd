package main

import (
	"os/exec"
	"strings"
	"testing"
)

// An image without dnsmasq: systemctl try-restart says "Unit dnsmasq.service not found." and
// exits 5 at every boot; that is no failure worth a line in the journal. Any other failure is.
func TestTryRestartQuietWithoutDNSMasq(t *testing.T) {
	notFound := exec.Command("sh", "-c", "echo 'Unit dnsmasq.service not found.' >&2; exit 5")
	if err := tryRestart(notFound); err != nil {
		t.Errorf("unit not found: %v, want nil", err)
	}
	failed := exec.Command("sh", "-c", "echo 'Job for dnsmasq.service failed.' >&2; exit 1")
	err := tryRestart(failed)
	if err == nil || !strings.Contains(err.Error(), "Job for dnsmasq.service failed.") {
		t.Errorf("a failed restart: %v, want the error with its output", err)
	}
	if err := tryRestart(exec.Command("true")); err != nil {
		t.Errorf("a restart that worked: %v", err)
	}
}
