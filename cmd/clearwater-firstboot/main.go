// Command clearwater-firstboot runs at every boot of a Clearwater all-in-one image: it decides whether
// Clearwater uses IPv4 or IPv6, from the force_ipv6 toggle and the addresses the network offers, writes
// Clearwater's config for the chosen address, and records why.
//
//	clearwater-firstboot run    [--root DIR] [--config FILE] [--addrs FILE --routes FILE] [--user-data FILE] [--json] [--start-timeout DURATION]
//	clearwater-firstboot plan   (the same flags; decides and prints, writes nothing, never waits)
//	clearwater-firstboot status [--root DIR] [--json]
//	clearwater-firstboot reset  [--root DIR]
//	clearwater-firstboot version
//
// Exit status: as firstboot/exitcode defines and documents it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

var usage = `clearwater-firstboot decides the address family of a Clearwater all-in-one node and writes its config.

Usage:
  clearwater-firstboot run     decide, write Clearwater's config, record status (waits for the network)
  clearwater-firstboot plan    decide and print what run would do; writes nothing, never waits or probes
  clearwater-firstboot status  print what the last run decided and why
  clearwater-firstboot reset   remove what instances' user-data wrote into the toggle and config (before capture)
  clearwater-firstboot version print the version

Run 'clearwater-firstboot <command> --help' for a command's flags.
` + exitStatus

// exitStatus ends every usage text.
var exitStatus = "Exit status: " + exitcode.Summary() + ".\n"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitcode.Usage
	}
	switch args[0] {
	case "run", "plan":
		return decideCommand(ctx, args[0], args[1:], stdout, stderr)
	case "status":
		return statusCommand(args[1:], stdout, stderr)
	case "reset":
		return resetCommand(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "clearwater-firstboot", version)
		return exitcode.Decided
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stdout, usage)
		return exitcode.Decided
	default:
		fmt.Fprintf(stderr, "clearwater-firstboot: unknown command %q\n\n%s", args[0], usage)
		return exitcode.Usage
	}
}

// parseFlags parses a verb's flags; it reports the exit status to return when parsing ends the run
// (a usage error, or --help).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	fs.SetOutput(stderr)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitcode.Decided, false
	case err != nil:
		return exitcode.Usage, false
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "clearwater-firstboot %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitcode.Usage, false
	}
	return 0, true
}
