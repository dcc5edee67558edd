package qemu

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// pollInterval is how often WaitFor rereads the serial log.
const pollInterval = 200 * time.Millisecond

// Serial returns everything the guest has written to its serial console so far.
func (vm *VM) Serial() (string, error) {
	b, err := os.ReadFile(vm.SerialLog)
	return string(b), err
}

// WaitFor waits until the serial console matches re and returns the match and its
// submatches. It fails when ctx is done (15 minutes when ctx has no deadline) or when QEMU
// exits first; the error then carries the end of the console.
func (vm *VM) WaitFor(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		// Read QEMU's state before the log: a match written just before exiting still counts.
		exited := vm.Exited()
		log, err := vm.Serial()
		if err != nil {
			return nil, err
		}
		if m := re.FindStringSubmatch(log); m != nil {
			return m, nil
		}
		if exited {
			why := "the guest powered off"
			if err := vm.exitErr(); err != nil {
				why = err.Error()
			}
			return nil, fmt.Errorf("QEMU exited before the console matched %q: %s\n%s", re, why, vm.tail())
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the console to match %q: %w\n%s", re, ctx.Err(), vm.tail())
		case <-tick.C:
		case <-vm.done:
		}
	}
}

// tail is the end of the serial console, for error messages.
func (vm *VM) tail() string {
	log, err := vm.Serial()
	if err != nil {
		return "(no serial console: " + err.Error() + ")"
	}
	const max = 3000
	if len(log) > max {
		log = "..." + log[len(log)-max:]
	}
	return "--- serial console (end) ---\n" + log
}

// Between returns the text between the first line containing begin and the next line
// containing end after it, without those two lines; ok is false if either is missing. Guests
// print results between two such markers on the console; CR (serial line endings) is dropped.
func Between(log, begin, end string) (text string, ok bool) {
	log = strings.ReplaceAll(log, "\r", "")
	i := strings.Index(log, begin)
	if i < 0 {
		return "", false
	}
	rest := log[i:]
	nl := strings.IndexByte(rest, '\n')
	if nl < 0 {
		return "", false
	}
	rest = rest[nl+1:]
	j := strings.Index(rest, end)
	if j < 0 {
		return "", false
	}
	body := rest[:j]
	// Drop the part of the end marker's line that precedes the marker.
	if k := strings.LastIndexByte(body, '\n'); k >= 0 {
		return body[:k+1], true
	}
	return "", true
}
