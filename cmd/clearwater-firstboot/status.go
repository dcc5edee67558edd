package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/aioconfig"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netconf"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/policy"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
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

// readState returns the last run's state. A missing file is the zero state and an error that
// matches fs.ErrNotExist (there was no last run); any other error says that the state is
// unreadable (torn by a crash, say), which must not be taken for "no last run".
func readState(root string) (state, error) {
	var s state
	err := status.ReadJSON(root, StateFile, &s)
	if err == nil && !s.address().IsValid() {
		err = fmt.Errorf("%s holds no address (%q)", StateFile, s.Address)
	}
	return s, err
}

// writeState records the decision when it differs from the recorded one (or that is unreadable).
func writeState(root string, rep Report) error {
	s := state{Address: rep.Address, Family: rep.Family, Interface: rep.Interface}
	if old, err := readState(root); err == nil && old == s {
		return nil
	}
	return status.WriteJSON(root, StateFile, s)
}

// writeStatus records the report of this boot.
func writeStatus(root string, rep Report) error {
	rep.Time = time.Now().UTC().Format(time.RFC3339)
	return status.WriteJSON(root, status.File, rep)
}

// sweep removes the temp files that a run killed mid-write left in the folders the helper writes
// in (only the helper's, by their name), and says so.
func sweep(root string, rep *Report) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return // the writes that follow say why
	}
	defer r.Close()
	dirs := append(slices.Clone(aioconfig.Folders), path.Dir(status.File), path.Dir(StateFile))
	removed, err := rootfs.Sweep(r, append(dirs, netconf.Folders(root)...)...)
	for _, p := range removed {
		rep.Reasons = append(rep.Reasons, "removed "+p+": a temp file that an interrupted run left")
	}
	if err != nil {
		rep.Warnings = append(rep.Warnings, "temp files of an interrupted run left in place: "+err.Error())
	}
}

func statusCommand(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("status", flag.ContinueOnError)
	root := flags.String("root", "/", "read the status under `DIR`")
	asJSON := flags.Bool("json", false, "print the status as JSON")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "Usage: clearwater-firstboot status [flags]\n\nPrint what the last run of this boot decided and why (%s).\n\nFlags:\n", status.File)
		flags.PrintDefaults()
		fmt.Fprint(stderr, "\nExit status: the last run's (1 also when no run is recorded this boot, 2 also when the status is unreadable).\n"+exitStatus)
	}
	if code, ok := parseFlags(flags, args, stderr); !ok {
		return code
	}
	rep, err := status.Read(*root)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "clearwater-firstboot status: no status at %s: the helper has not run since boot\n", filepath.Join(*root, status.File))
		return exitcode.NoAddress
	}
	if err != nil {
		fmt.Fprintf(stderr, "clearwater-firstboot status: %v\n", err)
		return exitcode.Usage
	}
	if *asJSON {
		printReport(stdout, rep, true)
	} else {
		fmt.Fprintf(stdout, "last %s at %s (clearwater-firstboot %s)\n%s", rep.Mode, rep.Time, rep.Version, rep.Summary())
	}
	return reportCode(rep)
}

// reportCode is the exit status that a recorded run stands for.
func reportCode(rep Report) int {
	switch {
	case rep.Family == "" && strings.HasPrefix(rep.Error, stoppedError):
		return exitcode.Stopped
	case rep.Family == "":
		return exitcode.NoAddress
	case rep.Error != "":
		return exitcode.NotWritten
	}
	return exitcode.Decided
}

// consoleDevice is where a live run on the running system writes its one-line verdict.
var consoleDevice = "/dev/console"

// sayVerdict writes the run's verdict line to the console, where operators (the serial console,
// `openstack console log show`) and the clearwater-verify post-processor read it. Only a live run
// of the running system says it; a console that cannot be written to is no failure (the status
// and the journal still tell). O_NONBLOCK: a stalled serial line never holds the boot.
func sayVerdict(o options, rep Report) {
	if filepath.Clean(o.root) != "/" || o.offline() {
		return
	}
	f, err := os.OpenFile(consoleDevice, os.O_WRONLY|os.O_APPEND|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer f.Close()
	f.WriteString(rep.Verdict(bakedConfig(o)) + "\n")
}

// bakedConfig is what the helper's config file alone (the provisioner's, without drop-ins, the
// marker or user-data) sets for the toggle; nil when it cannot be read.
func bakedConfig(o options) *status.Baked {
	file := o.config
	if file == "" {
		file = config.File
	}
	b := &status.Baked{OnMissingIPv6: config.Default().OnMissingIPv6}
	data, err := rootfs.ReadFileIn(o.root, file)
	if errors.Is(err, fs.ErrNotExist) {
		return b
	}
	if err != nil {
		return nil
	}
	p, err := config.Parse(file, data)
	if err != nil {
		return nil
	}
	if p.ForceIPv6 != nil {
		b.ForceIPv6 = *p.ForceIPv6
	}
	if p.OnMissingIPv6 != nil {
		b.OnMissingIPv6 = *p.OnMissingIPv6
	}
	return b
}
