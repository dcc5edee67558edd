package settings

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/template/config"

	helperconfig "github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
)

func TestPartialCollectsEveryErrorNamingTheOption(t *testing.T) {
	bad, ip := "eth0/1", "127.0.0.1"
	s := Settings{OnMissingIPv6: "retry", Interface: &bad, IgnoreInterfaces: []string{"["}, Hostname: "cw_aio",
		PublicIP: &ip, IPv4Wait: "ten", IPv6Timeout: "-1s", ProbeAfter: "2h", MetadataTimeout: "5",
		MetadataService: "sometimes"}
	_, err := s.Partial()
	if err == nil {
		t.Fatal("no error")
	}
	for _, opt := range []string{"on_missing_ipv6:", "interface:", "ignore_interfaces:", "hostname:", "public_ip:",
		"ipv4_wait:", "ipv6_timeout:", "probe_after:", "metadata_timeout:", "metadata_service:"} {
		if !strings.Contains(err.Error(), opt) {
			t.Errorf("error lacks %q:\n%v", opt, err)
		}
	}
}

func TestPartialSetsOnlyWhatIsSet(t *testing.T) {
	p, err := Settings{}.Partial()
	if err != nil || len(p.Set()) != 0 {
		t.Fatalf("empty settings give %q, %v", p.Set(), err)
	}
	empty := ""
	s := Settings{Interface: &empty, IgnoreInterfaces: []string{}, IPv6Timeout: "45s", ProbeDHCP: config.TriFalse}
	p, err = s.Partial()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Set(), ","); got != "interface,ignore_interfaces,ipv6_timeout,probe_dhcp" {
		t.Errorf("Set() = %s", got)
	}
	if *p.Interface != "" || len(*p.IgnoreInterfaces) != 0 || time.Duration(*p.IPv6Timeout) != 45*time.Second || *p.ProbeDHCP {
		t.Errorf("values: %+v", p)
	}
	// What the plugin accepts, the helper reads back the same.
	data, err := helperconfig.Render("", p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := helperconfig.Parse("x", data)
	if err != nil || strings.Join(back.Set(), ",") != strings.Join(p.Set(), ",") {
		t.Errorf("read back %q, %v from:\n%s", back.Set(), err, data)
	}
}

// TestEveryKeyIsAnOption holds the template options to the helper's keys: each option is a key
// (its mapstructure tag), and each key but the toggle (an option of its own) is an option.
func TestEveryKeyIsAnOption(t *testing.T) {
	var opts []string
	st := reflect.TypeFor[Settings]()
	for i := range st.NumField() {
		opts = append(opts, st.Field(i).Tag.Get("mapstructure"))
	}
	want := slices.DeleteFunc(slices.Clone(helperconfig.Keys), func(k string) bool { return k == "force_ipv6" })
	if !reflect.DeepEqual(opts, want) {
		t.Errorf("options %q, want the helper's keys %q", opts, want)
	}
}
