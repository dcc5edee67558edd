package netconf

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// applyMu serializes Applies: the helper probes interfaces in parallel, and two `netplan apply`
// (or a networkd reload beside a reconfigure) at once regenerate and restart the same units.
var applyMu sync.Mutex

// ApplyTimeout bounds each command Apply runs when ctx has no earlier deadline.
const ApplyTimeout = 30 * time.Second

// applyCommands are what make each stack take its drop-in on the running system, in order.
func applyCommands(s Stack, iface string) [][]string {
	switch s {
	case Netplan:
		return [][]string{{"netplan", "apply"}}
	case Networkd:
		return [][]string{{"networkctl", "reload"}, {"networkctl", "reconfigure", iface}}
	case Ifupdown:
		return [][]string{{"ifup", iface}}
	}
	return nil
}

// Apply makes the running system take the drop-in of stack for iface, with the stack's own
// commands (found on PATH): `netplan apply`; `networkctl reload` then `networkctl reconfigure
// IF`; `ifup IF`. It returns each command run; it stops at the first that fails. ifupdown's ifup
// does nothing for an interface it already brought up: a stanza added to such an interface takes
// effect at the next boot (netconf never takes an interface down). It is safe for concurrent
// use: one Apply runs its commands at a time.
func Apply(ctx context.Context, s Stack, iface string) ([]string, error) {
	cmds := applyCommands(s, iface)
	if cmds == nil {
		return nil, fmt.Errorf("netconf: no way to apply %q", s)
	}
	applyMu.Lock()
	defer applyMu.Unlock()
	var ran []string
	for _, c := range cmds {
		cctx, cancel := context.WithTimeout(ctx, ApplyTimeout)
		out, err := exec.CommandContext(cctx, c[0], c[1:]...).CombinedOutput()
		cancel()
		ran = append(ran, strings.Join(c, " "))
		if err != nil {
			return ran, fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, bytes.TrimSpace(out))
		}
	}
	return ran, nil
}
