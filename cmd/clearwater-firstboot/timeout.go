package main

import (
	"fmt"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
)

// startMargin is the time left after the waits, within --start-timeout, for what follows them:
// writing the config, the state and the status, applying a network drop-in, restarting dnsmasq.
// The provisioner sets the unit's timeout 2m above the baked waits, so that baked settings are
// never capped; only user-data that raises them by more than that is.
const startMargin = 30 * time.Second

// capWaits lowers the waits that cfg sets (user-data may raise them) so that they end startMargin
// before the init system stops the run, counting what the run has spent already, and says so: a
// helper killed mid-write is what the timeout must never cause.
func capWaits(o options, cfg *config.Config, rep *Report) {
	if o.startTimeout <= 0 {
		return
	}
	left := o.startTimeout - time.Since(o.start) - startMargin
	for _, c := range cfg.CapWaits(left) {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s: the init system stops this run after %s (--start-timeout, the unit's TimeoutStartSec), "+
			"so the waits (%s) must end %s before it; raise the timeout with the provisioner's settings to wait longer", c, o.startTimeout, config.WaitsFormula, startMargin))
	}
}
