package aioconfig

import (
	"net/netip"
	"testing"
)

// The address changed when the state or local_config names another one; a state that could not be
// read says nothing, so local_config decides; no state at all is a first run.
func TestAddressChanged(t *testing.T) {
	a, b := mustAddr("10.0.0.5"), mustAddr("2001:db8::5")
	none := netip.Addr{}
	tests := []struct {
		name       string
		previous   netip.Addr
		unknown    bool
		configured netip.Addr
		want       bool
	}{
		{"same in both", a, false, a, false},
		{"state only, no local_ip", a, false, none, false},
		{"state names another", b, false, a, true},
		{"local_config names another (state written, config not)", a, false, b, true},
		{"first run", none, false, a, true},
		{"first run, no config", none, false, none, true},
		{"state torn, local_config same", none, true, a, false},
		{"state torn, local_config another", none, true, b, true},
		{"state torn, no local_ip", none, true, none, true},
	}
	for _, tt := range tests {
		v := Values{Address: a, Previous: tt.previous, PreviousUnknown: tt.unknown}
		if got := AddressChanged(v, tt.configured); got != tt.want {
			t.Errorf("%s: AddressChanged = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Apply reads local_ip from local_config as bash would and keeps the cluster when the state is
// unknown but local_config shows this address; any other address in it resets.
func TestClusterResetFromLocalConfig(t *testing.T) {
	tests := []struct {
		name, local string
		reset       bool
	}{
		{"same", "local_ip=10.0.0.5\n", false},
		{"quoted, CRLF", "local_ip=\"10.0.0.5\"\r\n", false},
		{"last assignment wins", "local_ip=10.0.0.5\nlocal_ip=10.0.0.9\n", true},
		{"commented is not an assignment", "#local_ip=10.0.0.5\n", true},
		{"another address", "local_ip=10.0.0.9\n", true},
		{"empty", "local_ip=\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRoot(t, map[string]string{LocalConfig: tt.local})
			withClusterState(t, root)
			v := v4()
			v.PreviousUnknown = true
			res := apply(t, root, v)
			if res.ClusterReset != tt.reset {
				t.Errorf("ClusterReset = %v, want %v", res.ClusterReset, tt.reset)
			}
			assertCleared(t, root, tt.reset)
		})
	}
}
