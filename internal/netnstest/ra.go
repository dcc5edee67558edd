package netnstest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// RAConfig is what a test router advertises.
type RAConfig struct {
	Link       *Link          // the router's end; its link-local address must be past DAD
	Prefixes   []netip.Prefix // advertised on-link and autonomous (SLAAC)
	OnLinkOnly []netip.Prefix // advertised on-link, without the A flag
	Managed    bool           // M flag: addresses from DHCPv6
	Other      bool           // O flag: other configuration from DHCPv6
	RDNSS      []netip.Addr
	Lifetime   time.Duration // router lifetime; 0 means 30 min, negative means 0 (not a default router)
	Interval   time.Duration // unsolicited advertisements; 0 means 1 s
	Hostile    []Hostile     // hostile advertisements sent before each valid one
}

// RASender is a running test router: it advertises at once, every Interval, and in answer to
// each router solicitation (mdlayher/ndp messages on a raw ICMPv6 socket).
type RASender struct {
	*lifecycle
	cfg RAConfig
	pc  *ipv6.PacketConn
	ifi *net.Interface
}

// StartRA starts advertising on cfg.Link and stops when the test ends.
func StartRA(t testing.TB, cfg RAConfig) *RASender {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	// The link-local source of every advertisement must be past DAD.
	cfg.Link.LinkLocal(t, 5*time.Second)
	r := &RASender{lifecycle: newLifecycle(), cfg: cfg}
	err := cfg.Link.NS.Do(func() error {
		var err error
		if r.ifi, err = net.InterfaceByName(cfg.Link.Name); err != nil {
			return err
		}
		// Bound to "::" (not the link-local address) so that solicitations sent to ff02::2 reach
		// it; bound to the device so that only this link's do.
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), cfg.Link.Name) })
			return errors.Join(err, serr)
		}}
		c, err := lc.ListenPacket(context.Background(), "ip6:ipv6-icmp", "::")
		if err != nil {
			return err
		}
		r.pc = ipv6.NewPacketConn(c)
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeRouterSolicitation)
		// RFC 4861: hop limit 255 on every ND message.
		for _, e := range []error{r.pc.SetHopLimit(ndp.HopLimit), r.pc.SetMulticastHopLimit(ndp.HopLimit),
			r.pc.SetICMPFilter(&f), r.pc.SetMulticastInterface(r.ifi),
			r.pc.JoinGroup(r.ifi, &net.IPAddr{IP: net.IPv6linklocalallrouters})} {
			if e != nil {
				c.Close()
				return e
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("netnstest: RA sender on %s: %v", cfg.Link.Name, err)
	}
	go r.run()
	t.Cleanup(r.Stop)
	return r
}

// Stop stops advertising.
func (r *RASender) Stop() { r.shutdown(r.pc.Close) }

// run advertises periodically and on every solicitation until Stop.
func (r *RASender) run() {
	defer close(r.served)
	if !r.enter() {
		return
	}
	solicited := make(chan struct{}, 1)
	go r.readSolicitations(solicited)
	tick := time.NewTicker(r.cfg.Interval)
	defer tick.Stop()
	defer r.leave()
	for {
		r.advertise()
		select {
		case <-r.stop:
			return
		case <-tick.C:
		case <-solicited:
		}
	}
}

// readSolicitations signals each router solicitation until the socket closes.
func (r *RASender) readSolicitations(solicited chan<- struct{}) {
	b := make([]byte, 1500)
	for {
		n, _, _, err := r.pc.ReadFrom(b)
		if err != nil {
			return
		}
		if m, err := ndp.ParseMessage(b[:n]); err == nil {
			if _, ok := m.(*ndp.RouterSolicitation); ok {
				r.note("RS")
				select {
				case solicited <- struct{}{}:
				default:
				}
			}
		}
	}
}

// advertise sends the hostile advertisements, then the valid one, to all nodes.
func (r *RASender) advertise() {
	for _, h := range r.cfg.Hostile {
		if b := r.hostile(h); b != nil {
			r.send(b)
		}
	}
	if b, err := ndp.MarshalMessage(r.message(r.cfg.Prefixes, r.cfg.Managed, r.cfg.Other)); err == nil {
		r.send(b)
	}
}

func (r *RASender) send(b []byte) {
	dst := &net.IPAddr{IP: net.IPv6linklocalallnodes, Zone: r.ifi.Name}
	_, _ = r.pc.WriteTo(b, nil, dst)
}

// message builds an advertisement of autonomous prefixes (plus the on-link-only ones).
func (r *RASender) message(auto []netip.Prefix, managed, other bool) *ndp.RouterAdvertisement {
	life := r.cfg.Lifetime
	if life == 0 {
		life = 30 * time.Minute
	} else if life < 0 {
		life = 0
	}
	ra := &ndp.RouterAdvertisement{CurrentHopLimit: 64, ManagedConfiguration: managed,
		OtherConfiguration: other, RouterLifetime: life}
	add := func(p netip.Prefix, a bool) {
		ra.Options = append(ra.Options, &ndp.PrefixInformation{PrefixLength: uint8(p.Bits()), OnLink: true,
			AutonomousAddressConfiguration: a, ValidLifetime: 24 * time.Hour, PreferredLifetime: 4 * time.Hour,
			Prefix: p.Masked().Addr()})
	}
	for _, p := range auto {
		add(p, true)
	}
	for _, p := range r.cfg.OnLinkOnly {
		add(p, false)
	}
	if len(r.cfg.RDNSS) > 0 {
		ra.Options = append(ra.Options, &ndp.RecursiveDNSServer{Lifetime: time.Hour, Servers: r.cfg.RDNSS})
	}
	ra.Options = append(ra.Options, &ndp.LinkLayerAddress{Direction: ndp.Source, Addr: r.ifi.HardwareAddr})
	return ra
}

// hostile builds one hostile advertisement: an autonomous prefix no host may configure, or
// bytes that do not parse. Its M and O flags are clear, so it offers nothing valid.
func (r *RASender) hostile(h Hostile) []byte {
	bad := map[Hostile]string{Loopback: "::1/128", Multicast: "ff02::/64", LinkLocal: "fe80::/64",
		Unspecified: "::/64", BadPrefix: "2001:db8:48::/48", Mapped: "::ffff:0:0/96"}
	if h == Malformed {
		b, err := ndp.MarshalMessage(r.message([]netip.Prefix{netip.MustParsePrefix("2001:db8:66::/64")}, false, false))
		if err != nil {
			return nil
		}
		// The first option's length byte (offset 16 + 1) set to 0: RFC 4861 says discard.
		b[17] = 0
		return b
	}
	p, ok := bad[h]
	if !ok {
		return nil
	}
	b, err := ndp.MarshalMessage(r.message([]netip.Prefix{netip.MustParsePrefix(p)}, false, false))
	if err != nil {
		return nil
	}
	return b
}
