// Package upstream holds the backends a gateway relays to: pools of
// servers, their health (passive, from failed dials, and an active TCP
// check), balancing (round robin or least connections), a background
// resolver for host names, and dialing.
//
// A dial walks one Dialing: the servers in balance order, healthy ones
// first, down ones last (never refusing only because of its own
// bookkeeping). The blocking Backend.Dial and a non-blocking connect on an
// event loop use that same walk, so failover, health, the dial-error count
// and the early re-resolve of a host name that stopped answering behave
// the same on both.
//
// The package knows nothing of the gateway's configuration language or of
// its metrics: the caller fills a Config per backend and passes Hooks.
//
// Typical use:
//
//	pools := upstream.NewPools(cfgs, previous, upstream.Hooks{DialErrors: counterFor}, nil)
//	b := pools["game"]
//	go b.CheckHealth(ctx, log)    // if the backend has a health check
//	go b.ResolveServers(ctx, log) // keeps host names resolved for non-blocking dials
//
//	c, srv, err := b.Dial(ctx) // blocking
//	if err != nil {
//		return err // wraps upstream.ErrNoBackend
//	}
//	defer srv.Release()
//
// A non-blocking dialer walks the same bookkeeping by address:
//
//	d := b.StartDial()
//	for {
//		srv, addr, ok := d.NextAddr()
//		if !ok {
//			return d.Err()
//		}
//		if err := connect(addr); err != nil { // in truth: when the connect completes
//			d.Failed(err)
//			continue
//		}
//		d.Connected() // srv counts the connection; srv.Release() when it ends
//		break
//	}
package upstream
