package aioconfig

import (
	"strings"
	"testing"
)

// upstreamShim is /etc/clearwater/config as clearwater-infrastructure's postinst writes it.
const upstreamShim = `. /etc/clearwater/shared_config
. /etc/clearwater/local_config
[ -r /etc/clearwater/user_settings ] && . /etc/clearwater/user_settings
`

// The port and prefix overrides that upstream's write_config honours shape the URIs and the
// hosts block: the last assignment wins, as when bash sources the shim; a value Clearwater
// cannot use keeps the default and is a warning.
func TestUpstreamOverrides(t *testing.T) {
	root := newRoot(t, map[string]string{
		UpstreamConfig: upstreamShim,
		SharedConfig:   sharedTemplate + "scscf=5060\nscscf_prefix=sprout\n",
		LocalConfig:    localTemplate,
		"/etc/clearwater/user_settings": "scscf=5070 # the last one wins\nicscf='6052'\nexport bgcf_prefix=\"breakout\"\n" +
			"bgcf=99999\nicscf_prefix=i.cscf\n",
		// a block whose end marker is lost, around an entry with the overrides' names
		Hosts: hostsTemplate + HostsStart + "\n10.0.0.9 cw-aio sprout.cw-aio breakout.cw-aio icscf.cw-aio\n",
	})
	res := apply(t, root, v4())
	shared := readFileT(t, root, SharedConfig)
	for _, want := range []string{
		`scscf_uri="sip:sprout.cw-aio:5070;transport=TCP"`,
		`icscf_uri="sip:icscf.cw-aio:6052;transport=TCP"`,
		`bgcf_uri="sip:breakout.cw-aio:5053;transport=TCP"`,
		"upstream_hostname=sprout.cw-aio",
		"scscf=5060\nscscf_prefix=sprout\n", // the operator's lines stay
	} {
		if !strings.Contains(shared, want+"\n") && !strings.Contains(shared, want) {
			t.Errorf("shared_config lacks %q:\n%s", want, shared)
		}
	}
	if hosts := readFileT(t, root, Hosts); !strings.Contains(hosts, "\n10.0.0.5 cw-aio sprout.cw-aio breakout.cw-aio icscf.cw-aio\n") {
		t.Errorf("hosts block:\n%s", hosts)
	} else if strings.Contains(hosts, "10.0.0.9") {
		t.Errorf("the broken block's entry stayed:\n%s", hosts)
	}
	if len(res.Warnings) != 2 || !strings.Contains(res.Warnings[0], `bgcf="99999"`) || !strings.Contains(res.Warnings[1], `icscf_prefix="i.cscf"`) {
		t.Errorf("warnings = %q, want bgcf and icscf_prefix named", res.Warnings)
	}
}

// Without the shim, or with one that sources nothing we can read, upstream's defaults apply.
func TestUpstreamOverridesDefaults(t *testing.T) {
	for name, shim := range map[string]string{"no shim": "", "missing user_settings": upstreamShim,
		"a loop": ". /etc/clearwater/config\n"} {
		files := map[string]string{SharedConfig: sharedTemplate}
		if shim != "" {
			files[UpstreamConfig] = shim
		}
		root := newRoot(t, files)
		res := apply(t, root, v4())
		if shared := readFileT(t, root, SharedConfig); !strings.Contains(shared, `scscf_uri="sip:scscf.cw-aio:5054;transport=TCP"`) ||
			!strings.Contains(shared, "upstream_hostname=scscf.cw-aio\n") || len(res.Warnings) != 0 {
			t.Errorf("%s: %q\n%s", name, res.Warnings, shared)
		}
	}
}
