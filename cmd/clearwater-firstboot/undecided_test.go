package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
)

// Why a run decided nothing picks its exit status: only a settings error is Usage. A run stopped
// while it waited (test/live's TestStoppedWhileDecidingAgain stops a real one) is Stopped, and a
// failure to read the live addresses (netlink) is NoAddress, also on the second decision.
func TestUndecidedExitStatus(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	netlink := errors.New("reading the live addresses: netlink receive: no buffer space available")
	for _, tc := range []struct {
		name      string
		ctx       context.Context
		o         options
		err       error
		want      int
		wantError string
	}{
		{"bad config", context.Background(), options{}, badConfig(errors.New("firstboot.yaml: ipv6_timeout: bad")), exitcode.Usage, "bad config: firstboot.yaml"},
		{"stopped mid-wait", cancelled, options{}, context.Canceled, exitcode.Stopped, stoppedError},
		{"netlink", context.Background(), options{}, netlink, exitcode.NoAddress, "reading the live addresses"},
		{"bad snapshot", context.Background(), options{addrs: "a.json"}, errors.New("a.json: not JSON"), exitcode.Usage, "a.json"},
	} {
		var rep Report
		if got := undecided(tc.ctx, tc.o, tc.err, &rep); got != tc.want || !strings.HasPrefix(rep.Error, tc.wantError) {
			t.Errorf("%s: exit %d, error %q; want %d, %q...", tc.name, got, rep.Error, tc.want, tc.wantError)
		}
		if tc.want == exitcode.Stopped {
			if got := reportCode(rep); got != exitcode.Stopped {
				t.Errorf("%s: status of the recorded run exits %d, want %d", tc.name, got, exitcode.Stopped)
			}
		}
	}
}
