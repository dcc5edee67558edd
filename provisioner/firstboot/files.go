package firstboot

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
	"time"

	helperconfig "github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
)

//go:embed files/*.tmpl
var fileTemplates embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{"q": shellQuote, "exit": exitStatuses}).
	ParseFS(fileTemplates, "files/*.tmpl"))

// helperExit is the helper's exit statuses as the templates name them ({{(exit).Usage}}): the
// scripts' comments are rendered from firstboot/exitcode, never written out.
type helperExit struct {
	Decided, NoAddress, Usage, NotWritten int
	Summary                               string
}

func exitStatuses() helperExit {
	return helperExit{exitcode.Decided, exitcode.NoAddress, exitcode.Usage, exitcode.NotWritten, exitcode.Summary()}
}

// startBefore lists what the helper must run before: every Clearwater service of the
// all-in-one image (they read the config it writes) and dnsmasq (it serves the /etc/hosts
// block the helper writes).
var startBefore = []string{
	"clearwater-infrastructure", "dnsmasq", "clearwater-etcd", "clearwater-cluster-manager",
	"clearwater-config-manager", "clearwater-queue-manager", "bono", "sprout", "homer",
	"homestead", "homestead-prov", "ellis", "restund", "chronos", "astaire", "rogers",
}

// timeoutMargin is added to the helper's own waits to bound its start.
const timeoutMargin = 2 * time.Minute

// guestFiles are the files staged in the guest for one install, by their name in the staging
// folder.
type guestFiles map[string][]byte

// installData is what install.sh.tmpl sees.
type installData struct {
	Dir             string
	InstallPath     string
	Init            string
	DisableUpstream bool
	ResetState      bool
}

// initData is what the unit and the LSB script see.
type initData struct {
	InstallPath string
	Before      string
	TimeoutSec  int
	Waits       string
}

// helperFile renders /etc/clearwater/firstboot.yaml: the settings the template sets, after a
// header that says where they came from.
func helperFile(p helperconfig.Partial, buildName string) ([]byte, error) {
	keys := p.Set()
	set := "none: every key takes the helper's default"
	if len(keys) > 0 {
		set = strings.Join(keys, ", ")
	}
	from := "the packer provisioner clearwater-firstboot"
	if buildName != "" {
		from += " (build " + buildName + ")"
	}
	header := fmt.Sprintf("Baked into this image by %s.\nOptions set: %s.\n"+
		"Keys not set here take the helper's defaults. Instance-specific settings belong in\n"+
		"/etc/clearwater/firstboot.d/*.yaml (for example written by cloud-init user-data).", from, set)
	data, err := helperconfig.Render(header, p)
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", helperconfig.File, err)
	}
	// Read it back the way the helper will, so that the image never gets a file it refuses.
	if _, err := helperconfig.Parse(helperconfig.File, data); err != nil {
		return nil, fmt.Errorf("the rendered %s does not read back: %w", helperconfig.File, err)
	}
	return data, nil
}

// startTimeout bounds the helper's start at boot: its longest waits with the baked settings
// (the helper's defaults for the keys not set, config.Waits), plus a margin. The helper gets it
// as --start-timeout and caps the waits that user-data raises to end before it.
func startTimeout(p helperconfig.Partial) (time.Duration, string) {
	c := helperconfig.Default()
	c.Apply("template", p)
	desc := fmt.Sprintf("ipv4_wait %s + ipv6_timeout %s + probe_after %s + metadata_timeout %s",
		c.IPv4Wait, c.IPv6Timeout, c.ProbeAfter, c.MetadataTimeout)
	return c.Waits() + timeoutMargin, desc
}

// stageFiles renders every file that one install uploads into the staging folder dir.
func (c *Config) stageFiles(dir, initSystem string, helper []byte, buildName string) (guestFiles, error) {
	p, err := c.helperSettings()
	if err != nil {
		return nil, err
	}
	yaml, err := helperFile(p, buildName)
	if err != nil {
		return nil, err
	}
	timeout, waits := startTimeout(p)
	files := guestFiles{"clearwater-firstboot": helper, "firstboot.yaml": yaml}
	id := initData{InstallPath: c.InstallPath, Before: strings.Join(startBefore, " "),
		TimeoutSec: int(timeout / time.Second), Waits: waits}
	switch initSystem {
	case InitSystemd:
		id.Before = strings.Join(startBefore, ".service ") + ".service"
		files["clearwater-firstboot.service"], err = render("clearwater-firstboot.service.tmpl", id)
	case InitSysvinit:
		files["clearwater-firstboot.init"], err = render("clearwater-firstboot.init.tmpl", id)
	default:
		err = fmt.Errorf("no init integration for init system %q", initSystem)
	}
	if err != nil {
		return nil, err
	}
	files["install.sh"], err = render("install.sh.tmpl", installData{
		Dir: dir, InstallPath: c.InstallPath, Init: initSystem,
		DisableUpstream: !c.DisableUpstreamAutoconfig.False(), ResetState: !c.ResetInstanceState.False(),
	})
	if err != nil {
		return nil, err
	}
	if !c.Verify.False() {
		files["verify.sh"], err = render("verify.sh.tmpl", struct{ InstallPath string }{c.InstallPath})
	}
	return files, err
}

func render(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", strings.TrimSuffix(name, ".tmpl"), err)
	}
	return b.Bytes(), nil
}

// shellQuote quotes s as one word for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
