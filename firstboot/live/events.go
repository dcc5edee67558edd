package live

import (
	"context"
	"errors"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Subscribe returns a channel that carries a value after each link, address or default-route
// change in the calling thread's network namespace, until ctx ends. Changes that arrive while a
// value is pending are coalesced: the reader takes a fresh snapshot anyway.
func Subscribe(ctx context.Context) (<-chan struct{}, error) {
	groups := uint32(unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR |
		unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE)
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{Groups: groups})
	if err != nil {
		return nil, err
	}
	ch := make(chan struct{}, 1)
	go func() {
		<-ctx.Done()
		c.Close() // unblocks Receive
	}()
	go func() {
		for {
			if _, err := c.Receive(); err != nil && !errors.Is(err, unix.ENOBUFS) {
				// Closed by ctx, or broken: stop. Wait's deadlines still bound the wait.
				// (ENOBUFS means the kernel dropped events; a fresh snapshot covers them.)
				return
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	return ch, nil
}
