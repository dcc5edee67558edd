package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/policy"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/status"
)

// StateFile is where the helper records, relative to the root, what outlives a boot: the address
// the config was last written for.
const StateFile = "/var/lib/clearwater-firstboot/state.json"

// Report is what run and plan print with --json, and what the status file holds.
type Report = status.Report

// applyDecision copies the decision into the report.
func applyDecision(r *Report, d policy.Decision) {
	r.Family, r.Interface, r.Degraded = d.Family, d.Interface, d.Degraded
	if d.Decided() {
		r.Address = d.Address.String()
	}
	r.Reasons = append(r.Reasons, d.Reasons...)
	r.Warnings = append(r.Warnings, d.Warnings...)
	r.Error = d.Error
}

// state is what outlives a boot: what the config was last written for.
type state struct {
	Address   string `json:"address"`
	Family    string `json:"family"`
	Interface string `json:"interface"`
}

func (s state) address() netip.Addr {
	a, _ := netip.ParseAddr(s.Address)
	return a
}

// readState returns the last run's state; none (or unreadable) means "no previous address".
func readState(root string) state {
	var s state
	data, err := os.ReadFile(filepath.Join(root, StateFile))
	if err == nil {
		_ = json.Unmarshal(data, &s) // a corrupt state is no state: the next write repairs it
	}
	return s
}

// writeState records the decision when it differs from the recorded one.
func writeState(root string, rep Report) error {
	s := state{Address: rep.Address, Family: rep.Family, Interface: rep.Interface}
	if readState(root) == s {
		return nil
	}
	return status.WriteJSON(filepath.Join(root, StateFile), s)
}

// writeStatus records the report of this boot; a failure is logged, never fatal.
func writeStatus(root string, rep Report, logf func(string, ...any)) {
	rep.Time = time.Now().UTC().Format(time.RFC3339)
	if err := status.WriteJSON(filepath.Join(root, status.File), rep); err != nil {
		logf("recording status: %v", err)
	}
}

func statusCommand(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("status", flag.ContinueOnError)
	root := flags.String("root", "/", "read the status under `DIR`")
	asJSON := flags.Bool("json", false, "print the status as JSON")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "Usage: clearwater-firstboot status [flags]\n\nPrint what the last run of this boot decided and why (%s).\n\nFlags:\n", status.File)
		flags.PrintDefaults()
		fmt.Fprint(stderr, "\nExit status: 0 the last run decided, 1 it did not or has not run this boot, 2 bad usage or unreadable status.\n")
	}
	if code, ok := parseFlags(flags, args, stderr); !ok {
		return code
	}
	rep, err := status.Read(*root)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "clearwater-firstboot status: no status at %s: the helper has not run since boot\n", filepath.Join(*root, status.File))
		return exitNoAddress
	}
	if err != nil {
		fmt.Fprintf(stderr, "clearwater-firstboot status: %v\n", err)
		return exitUsage
	}
	if *asJSON {
		printReport(stdout, rep, true)
	} else {
		fmt.Fprintf(stdout, "last %s at %s (clearwater-firstboot %s)\n%s", rep.Mode, rep.Time, rep.Version, rep.Summary())
	}
	if rep.Family == "" {
		return exitNoAddress
	}
	return exitDecided
}

// restartDNSMasq makes dnsmasq re-read /etc/hosts, through whichever init system runs, if it runs.
func restartDNSMasq() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	switch {
	case exists("/run/systemd/system"):
		cmd = exec.CommandContext(ctx, "systemctl", "try-restart", "dnsmasq.service")
	case exists("/etc/init.d/dnsmasq"):
		cmd = exec.CommandContext(ctx, "/etc/init.d/dnsmasq", "restart")
	default:
		return nil // no dnsmasq to restart
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", cmd, err, bytes.TrimSpace(out))
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
