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
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/aioconfig"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/discover"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/leftover"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
)

// MarkerFile is upstream's toggle: IPv6 is forced when this regular file exists (content ignored).
const MarkerFile = userdata.MarkerPath

// options are the flags of run and plan.
type options struct {
	verb     string
	root     string
	config   string
	addrs    string
	routes   string
	userData string
	json     bool
	// startTimeout is how long the init system lets the run take (the unit's TimeoutStartSec);
	// 0: no limit.
	startTimeout time.Duration
	start        time.Time // when the run started
}

// offline reports whether the run works from a snapshot: then nothing waits and no packet is sent.
func (o options) offline() bool { return o.addrs != "" || o.verb == "plan" }

func decideFlags(verb string, stderr io.Writer) (*flag.FlagSet, *options) {
	o := &options{verb: verb}
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	fs.StringVar(&o.root, "root", "/", "take every file path (config, marker, seeds, /etc/hosts, state) under `DIR`")
	fs.StringVar(&o.config, "config", "", "read the helper's config from `FILE` (under --root) instead of "+config.File)
	fs.StringVar(&o.addrs, "addrs", "", "use the address snapshot in `FILE` (the JSON of `ip -j addr show`) instead of the live addresses; nothing waits and no packet is sent")
	fs.StringVar(&o.routes, "routes", "", "with --addrs: the default routes in `FILE` (the JSON of `ip -j route show default` and/or `ip -6 -j route show default`)")
	fs.StringVar(&o.userData, "user-data", "", "read cloud-init user-data from `FILE` instead of looking for it")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of a summary")
	fs.DurationVar(&o.startTimeout, "start-timeout", 0, "the init system stops the run after `DURATION` (the unit's TimeoutStartSec): the waits are capped to end "+
		startMargin.String()+" before it, and the status says which; 0 = no limit")
	fs.Usage = func() {
		what := map[string]string{
			"run":  "Decide the address family, write Clearwater's config for the chosen address, and record why.",
			"plan": "Decide and print what run would do. Writes nothing, never waits, sends no packet: safe anywhere, a build chroot included.",
		}[verb]
		fmt.Fprintf(stderr, "Usage: clearwater-firstboot %s [flags]\n\n%s\n\nFlags:\n", verb, what)
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\n"+exitStatus)
	}
	return fs, o
}

func decideCommand(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) int {
	fs, o := decideFlags(verb, stderr)
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	if err := o.check(); err != nil {
		fmt.Fprintf(stderr, "clearwater-firstboot %s: %v\n", verb, err)
		return exitcode.Usage
	}
	var waited, unlocked string
	if verb == "run" {
		release, w, err := lockRun(ctx, o.root, stderr)
		switch {
		case err != nil && ctx.Err() != nil:
			// The other run records its own status: this one decided nothing.
			fmt.Fprintf(stderr, "clearwater-firstboot run: %v\n", err)
			return exitcode.Stopped
		case err != nil:
			// A root where no lock can be made (read-only, say): the writes will say what fails.
			unlocked = "ran without the run lock: " + err.Error()
		default:
			defer release()
		}
		waited = w
	}
	rep, code := decide(ctx, *o, stderr)
	if verb == "run" {
		if waited != "" {
			rep.Reasons = append([]string{waited}, rep.Reasons...)
		}
		if unlocked != "" {
			rep.Warnings = append(rep.Warnings, unlocked)
		}
		// Every path of a run is recorded, failures included, so that status tells what happened.
		if err := writeStatus(o.root, rep); err != nil {
			fmt.Fprintf(stderr, "clearwater-firstboot: could not record the status of this run (clearwater-firstboot status will not show it): %v\n", err)
			rep.Warnings = append(rep.Warnings, "the status of this run could not be recorded: "+err.Error())
		}
		sayVerdict(*o, rep)
	}
	if err := printReport(stdout, rep, o.json); err != nil {
		fmt.Fprintf(stderr, "clearwater-firstboot %s: %v\n", verb, err)
	}
	return code
}

// check validates the flags against each other and the file system.
func (o options) check() error {
	if st, err := os.Stat(o.root); err != nil || !st.IsDir() {
		return fmt.Errorf("--root %s: not a directory", o.root)
	}
	if o.startTimeout < 0 {
		return fmt.Errorf("--start-timeout %s: a duration of 0 or more (0 = no limit)", o.startTimeout)
	}
	if o.routes != "" && o.addrs == "" {
		return errors.New("--routes needs --addrs (routes are read live otherwise)")
	}
	if o.userData != "" {
		if st, err := os.Stat(o.userData); err != nil || st.IsDir() {
			return fmt.Errorf("--user-data %s: not a readable file", o.userData)
		}
	}
	return nil
}

// decide runs the whole decision and, for run, the writing. It returns the report and exit status.
func decide(ctx context.Context, o options, stderr io.Writer) (Report, int) {
	o.start = time.Now()
	rep := Report{Version: version, Mode: o.verb}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "clearwater-firstboot: "+format+"\n", a...) }
	if o.verb == "run" {
		sweep(o.root, &rep)
	}

	ud, found, err := readUserData(o, &rep)
	if err != nil {
		return rep, undecided(ctx, o, err, &rep)
	}
	cfg, err := settle(o, ud, &rep)
	if err != nil {
		return rep, undecided(ctx, o, badConfig(err), &rep)
	}
	capWaits(o, &cfg, &rep)
	sess, err := newSession(ctx, o)
	if err != nil {
		return rep, undecided(ctx, o, err, &rep)
	}
	defer sess.close()
	d, err := sess.decide(ctx, cfg, &rep)
	if err == nil && !found && sess.live() && d.Decided() {
		// No local user-data: ask the metadata service, now that an address is usable.
		cfg, d, err = sess.metadataUserData(ctx, o, cfg, d, &rep)
	}
	if err != nil {
		return rep, undecided(ctx, o, err, &rep)
	}
	applyDecision(&rep, d)
	if !d.Decided() {
		logf("%s", d.Error)
		return rep, exitcode.NoAddress
	}
	return rep, write(o, cfg, d.Address, &rep, logf)
}

// usageError is an error in what the helper was given (a flag's file, its baked settings): exit
// Usage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// badConfig is the usageError of settings that do not load.
func badConfig(err error) error { return usageError{fmt.Errorf("bad config: %w", err)} }

// stoppedError begins the error of a run stopped before it decided: status tells it by that.
const stoppedError = "stopped before deciding: "

// undecided records why a run decided nothing and returns its exit status. Only an error in the
// settings or a flag's file is Usage: a run stopped while it waited is Stopped, whatever the wait was
// for, and a failure to read the addresses is NoAddress (Usage when they come from --addrs).
func undecided(ctx context.Context, o options, err error, rep *Report) int {
	var ue usageError
	switch {
	case errors.As(err, &ue):
		rep.Error = err.Error()
		return exitcode.Usage
	case ctx.Err() != nil:
		rep.Error = stoppedError + err.Error()
		return exitcode.Stopped
	}
	rep.Error = err.Error()
	if o.addrs != "" {
		return exitcode.Usage // a bad snapshot file is bad usage
	}
	return exitcode.NoAddress
}

// write plans (plan) or writes (run) Clearwater's config, and records the state.
func write(o options, cfg config.Config, addr netip.Addr, rep *Report, logf func(string, ...any)) int {
	res, err := writeConfig(o, cfg, addr, rep)
	rep.Changed, rep.Changes, rep.NotWritten = res.Changed, res.Changes, res.Pending
	rep.Warnings = append(rep.Warnings, res.Warnings...)
	if err != nil {
		rep.Error = writeError(err) + ": " + leftAsItWas(res)
		logf("%s", rep.Error)
		return exitcode.NotWritten
	}
	if o.verb == "run" {
		return afterWrite(o, rep, res, logf)
	}
	return exitcode.Decided
}

// writeError says which file could not be read or written and why.
func writeError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("could not %s %s: %v", pe.Op, pe.Path, pe.Err)
	}
	return "could not write Clearwater's config: " + strings.TrimPrefix(err.Error(), "aioconfig: ")
}

// leftAsItWas says what a failed write left as it was.
func leftAsItWas(res aioconfig.Result) string {
	if len(res.Changes) == 0 {
		return "nothing was written; every file is as it was"
	}
	var not []string
	for _, c := range res.Pending {
		not = append(not, c.Path)
	}
	return "only part was written; " + strings.Join(not, ", ") + " left as it was"
}

// readUserData finds and parses the user-data on disk; a problem is a reason, never a failure,
// but for the file that --user-data names: one that cannot be read (a FIFO, too large, permission
// denied) is bad usage, which discovery answers without trying another source.
func readUserData(o options, rep *Report) (userdata.Result, bool, error) {
	src, found, notes := discover.UserData(o.root, o.userData)
	rep.Reasons = append(rep.Reasons, notes...)
	if !found && src.Kind == discover.KindFlag {
		return userdata.Result{}, false, usageError{fmt.Errorf("%s (give a readable regular file of at most %d MiB, or leave the flag out)", notes[len(notes)-1], rootfs.MaxFileSize>>20)}
	}
	if !found {
		return userdata.Result{}, false, nil
	}
	return parseUserData(src.Kind+":"+src.Path, src.Data, rep), true, nil
}

func parseUserData(from string, data []byte, rep *Report) userdata.Result {
	rep.UserData = from
	ud := userdata.Parse(data)
	for _, n := range ud.Notes {
		rep.Reasons = append(rep.Reasons, "user-data: "+n)
	}
	return ud
}

// settle loads the config (with the user-data's drop-ins and settings) and applies the toggle's
// precedence, leaving out what another instance's user-data wrote into the image.
func settle(o options, ud userdata.Result, rep *Report) (config.Config, error) {
	recorded, instances, notes := leftover.All(o.root) // read once: both uses below need it
	skip := notThisInstance(o.root, ud, recorded, instances, notes, rep)
	extra := ud.Config()
	extra.Skip = skip
	extra.DropIns = append(cloudInitDropIns(o.root, ud, recorded, skip), extra.DropIns...)
	cfg, warnings, err := config.Load(o.root, o.config, extra)
	rep.Warnings = append(rep.Warnings, warnings...)
	if err != nil {
		return cfg, err
	}
	marker := markerExists(o.root)
	if why, ok := skip[MarkerFile]; ok && marker {
		rep.Warnings = append(rep.Warnings, "ignored "+MarkerFile+": "+why)
		marker = false
	}
	force, source := userdata.Toggle(ud, marker, cfg)
	rep.ForceIPv6, rep.ForceSource = force, string(source)
	rep.Reasons = append(rep.Reasons, forceReason(force, source))
	return cfg, nil
}

// notThisInstance names the marker and drop-ins that cloud-init wrote (recorded, from the user-data
// of its instances) for another instance than this one (a build instance, or the instance a
// snapshot was taken of) and that ud, this instance's, does not write, each with why: they must
// not decide this instance.
func notThisInstance(root string, ud userdata.Result, recorded []leftover.File, instances int, notes []string, rep *Report) map[string]string {
	cur, from := discover.CurrentInstance(root)
	if cur == "" {
		if instances > 0 {
			rep.Reasons = append(rep.Reasons, "the booting instance is unknown (no cloud-init record for this boot, no SMBIOS UUID): files that cloud-init wrote from recorded instances' user-data count")
		}
		return nil
	}
	for _, n := range notes {
		rep.Warnings = append(rep.Warnings, "cloud-init's records: "+n)
	}
	own := ud.Writes()
	skip := map[string]string{}
	for _, f := range leftover.Others(recorded, cur) {
		if !slices.Contains(own, f.Path) {
			skip[f.Path] = fmt.Sprintf("cloud-init wrote it from the user-data of instance %s, not of this one (%s, from %s): remove it, and bake a toggle with the provisioner's force_ipv6 instead", f.Instance, cur, from)
		}
	}
	return skip
}

// cloudInitDropIns are the drop-ins on disk that cloud-init wrote from the user-data it recorded
// (this instance's, or any when the booting instance is unknown) and that neither ud nor skip
// covers: they arrived through user-data, so they load as user-data's do, a bad one a warning
// rather than a boot with no config. Each replaces its copy on disk (config.SortDropIns).
func cloudInitDropIns(root string, ud userdata.Result, recorded []leftover.File, skip map[string]string) []config.Source {
	own := ud.Writes()
	var out []config.Source
	for _, f := range leftover.Others(recorded, "") {
		if _, skipped := skip[f.Path]; skipped || slices.Contains(own, f.Path) ||
			path.Dir(f.Path) != config.DropIn || path.Ext(f.Path) != ".yaml" {
			continue
		}
		if data, err := rootfs.ReadFileIn(root, f.Path); err == nil { // else config.Load says why
			out = append(out, config.Source{Name: f.Path, Data: data})
		}
	}
	return out
}

func forceReason(force bool, source userdata.Source) string {
	if force {
		return "IPv6 forced by " + source.Description()
	}
	return "IPv6 not forced (" + source.Description() + ")"
}

// markerExists reports whether upstream's marker is a regular file under root, as upstream's
// [ -f ] tests it in a chroot: symlinks followed inside the root.
func markerExists(root string) bool {
	st, err := rootfs.StatIn(root, MarkerFile)
	return err == nil && st.Mode().IsRegular()
}

// writeConfig plans (plan) or applies (run) Clearwater's config for addr.
func writeConfig(o options, cfg config.Config, addr netip.Addr, rep *Report) (aioconfig.Result, error) {
	v := aioconfig.Values{Address: addr, Hostname: cfg.Hostname}
	prev, err := readState(o.root)
	switch {
	case err == nil:
		v.Previous = prev.address()
	case !errors.Is(err, fs.ErrNotExist):
		v.PreviousUnknown = true
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the last run's state is unreadable (%v): whether the address changed is judged from %s alone", err, aioconfig.LocalConfig))
	}
	if cfg.PublicIP != "" {
		v.PublicIP = netip.MustParseAddr(cfg.PublicIP) // validated by config
	}
	if o.verb == "plan" {
		return aioconfig.Plan(o.root, v)
	}
	return aioconfig.Apply(o.root, v)
}

// afterWrite records the state and restarts what must see the new hosts block. A state that
// cannot be recorded fails the run: the next one would take the address for a new one.
func afterWrite(o options, rep *Report, res aioconfig.Result, logf func(string, ...any)) int {
	code := exitcode.Decided
	if err := writeState(o.root, *rep); err != nil {
		rep.Error = writeError(err) + ": Clearwater's config is written, but the next run may take the address for a new one and reset the cluster"
		logf("%s", rep.Error)
		code = exitcode.NotWritten
	}
	if res.HostsChanged && !o.offline() && filepath.Clean(o.root) == "/" {
		if err := restartDNSMasq(); err != nil {
			logf("restarting dnsmasq: %v", err)
		}
	}
	return code
}

// restartDNSMasq makes dnsmasq re-read /etc/hosts, through whichever init system runs, if it runs.
func restartDNSMasq() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	switch {
	case exists("/run/systemd/system"):
		return tryRestart(exec.CommandContext(ctx, "systemctl", "try-restart", "dnsmasq.service"))
	case exists("/etc/init.d/dnsmasq"):
		return tryRestart(exec.CommandContext(ctx, "/etc/init.d/dnsmasq", "restart"))
	}
	return nil // no dnsmasq to restart
}

// exitNotInstalled is the LSB exit status "program is not installed", which systemctl's
// try-restart returns for a unit it does not know: an image without dnsmasq, nothing to say.
const exitNotInstalled = 5

// tryRestart runs cmd, a restart of dnsmasq, and says why it failed, unless dnsmasq is not there.
func tryRestart(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == exitNotInstalled {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %v: %s", cmd, err, bytes.TrimSpace(out))
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func printReport(w io.Writer, rep Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err := io.WriteString(w, rep.Summary())
	return err
}
