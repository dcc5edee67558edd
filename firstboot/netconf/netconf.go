// Package netconf makes the image's own network stack ask for an address family that the network
// offers but the image did not configure: it writes a drop-in for netplan, systemd-networkd or
// ifupdown under a root, and, on the running system, applies it.
//
// The helper never becomes a DHCP client: the OS's stack keeps the lease from then on, at this
// boot and every later one.
//
// The stack is detected under the root in this order, the first that matches wins:
//
//  1. netplan: any /etc/netplan/*.yaml (or /lib/netplan, /run/netplan). netplan renders
//     systemd-networkd's or NetworkManager's config into /run at every boot, so a drop-in for
//     either would be overwritten or shadowed: the change must be made in netplan's own terms.
//  2. systemd-networkd: a .network file in /etc/systemd/network, /run/systemd/network,
//     /usr/lib/systemd/network or /lib/systemd/network whose [Match] Name= matches the
//     interface (the first by file name, as networkd picks it).
//  3. ifupdown: /etc/network/interfaces, when it sources /etc/network/interfaces.d.
//
// Files are never clobbered: each stack gets one file of ours, named 90-clearwater-firstboot,
// which holds the union of everything asked for so far; the operator's files are only read.
// Writes are atomic (temp file, fsync, rename, fsync the folder) and idempotent: a request that
// is already in the drop-in writes nothing. A stack it cannot handle is a reason, not an error.
package netconf

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/dhcpprobe"
)

// Stack is a network configuration system of the image.
type Stack string

// The stacks netconf handles.
const (
	Netplan  Stack = "netplan"
	Networkd Stack = "systemd-networkd"
	Ifupdown Stack = "ifupdown"
)

// Name is the base name of every drop-in netconf writes (plus the stack's extension).
const Name = "90-clearwater-firstboot"

// Header starts every drop-in, so that an operator knows where it came from.
const Header = "# Written by clearwater-firstboot: the network offered an address family that this\n" +
	"# image's network stack did not ask for. Delete this file to undo.\n"

// ErrUnsupported is wrapped by Write when no stack it handles is found, or the stack's config
// is one it cannot safely extend.
var ErrUnsupported = errors.New("no network stack netconf can extend")

// Request is what the OS should ask the network for on one interface.
type Request struct {
	Interface string
	DHCPv4    bool // a DHCPv4 lease
	DHCPv6    bool // a DHCPv6 address (IA_NA)
	AcceptRA  bool // router advertisements: SLAAC addresses and the IPv6 default route
}

// Empty reports whether the request asks for nothing.
func (r Request) Empty() bool { return !r.DHCPv4 && !r.DHCPv6 && !r.AcceptRA }

func (r Request) union(o Request) Request {
	r.DHCPv4 = r.DHCPv4 || o.DHCPv4
	r.DHCPv6 = r.DHCPv6 || o.DHCPv6
	r.AcceptRA = r.AcceptRA || o.AcceptRA
	return r
}

func (r Request) String() string {
	var p []string
	for _, f := range []struct {
		on   bool
		name string
	}{{r.DHCPv4, "DHCPv4"}, {r.DHCPv6, "DHCPv6"}, {r.AcceptRA, "router advertisements"}} {
		if f.on {
			p = append(p, f.name)
		}
	}
	return strings.Join(p, " + ") + " on " + r.Interface
}

// FromProbe is what to ask for after a probe: exactly what the network offered. A router
// advertisement with the M flag asks for DHCPv6; any IPv6 offer accepts router advertisements,
// which carry the default route that DHCPv6 does not.
func FromProbe(r dhcpprobe.Result) Request {
	req := Request{Interface: r.Interface}
	for _, o := range r.Offers {
		switch o.Kind {
		case dhcpprobe.KindDHCPv4:
			req.DHCPv4 = true
		case dhcpprobe.KindDHCPv6:
			req.DHCPv6, req.AcceptRA = true, true
		case dhcpprobe.KindSLAAC, dhcpprobe.KindRA:
			req.AcceptRA = true
			req.DHCPv6 = req.DHCPv6 || o.Managed
		}
	}
	return req
}

// Result is what Write and Configure did.
type Result struct {
	Stack   Stack
	Path    string   // the drop-in, as a path inside the root ("/etc/netplan/...")
	Written bool     // false when the drop-in already asked for all of it
	Applied []string // the commands run to apply it, each with its outcome
	Reason  string   // for a person: what was done, or why not
}

// writeMu serializes Writes: each reads the drop-in, adds to it and replaces it, and the helper
// probes several interfaces at once.
var writeMu sync.Mutex

// Write detects the stack under root and writes (or extends) its drop-in for req. It is safe
// for concurrent use within a process.
func Write(root string, req Request) (Result, error) {
	if req.Interface == "" || strings.ContainsAny(req.Interface, "/ \t\n") || req.Empty() {
		return Result{}, fmt.Errorf("netconf: bad request %+v", req)
	}
	writeMu.Lock()
	defer writeMu.Unlock()
	for _, s := range stacks {
		res, ok, err := s(root, req)
		if ok || err != nil {
			return res, err
		}
	}
	return Result{}, fmt.Errorf("netconf: %w: no /etc/netplan/*.yaml, no systemd-networkd .network file matching %s, no /etc/network/interfaces that sources interfaces.d", ErrUnsupported, req.Interface)
}

// stacks are tried in the documented order; each reports whether it is the image's stack.
var stacks = []func(root string, req Request) (Result, bool, error){writeNetplan, writeNetworkd, writeIfupdown}

// Configure writes the drop-in for req and, when root is "/" (the running system), applies it.
// It never fails: what happened, or why nothing did, is in Result.Reason.
func Configure(ctx context.Context, root string, req Request) Result {
	res, err := Write(root, req)
	if err != nil {
		res.Reason = "network config not changed: " + err.Error()
		return res
	}
	what := "already asks for"
	if res.Written {
		what = "now asks for"
	}
	res.Reason = fmt.Sprintf("%s drop-in %s %s %s", res.Stack, res.Path, what, req)
	switch {
	case filepath.Clean(root) != "/":
		res.Reason += "; not applied (--root is not /)"
	case !res.Written:
		res.Reason += "; not applied again"
	default:
		res.Applied, err = Apply(ctx, res.Stack, req.Interface)
		if err != nil {
			res.Reason += "; applying it failed: " + err.Error()
		} else {
			res.Reason += "; applied: " + strings.Join(res.Applied, ", ")
		}
	}
	return res
}
