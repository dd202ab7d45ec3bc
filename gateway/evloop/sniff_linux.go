package gateway

import (
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Multiplexed listeners on the event loops: the loop reads the first bytes
// and sniffs them as conn.sniff does. Policy requests are answered and
// binary or XMLSocket traffic is relayed in the loop; TLS to terminate and
// HTTP (crossdomain.xml, WebSocket) are handed to a goroutine on the Go
// path, with the bytes sniffed.

// sniff reads the client's first bytes until the sniffer decides.
func (e *evConn) sniff(now int64) {
	buf := e.h.buf[:]
	for e.cr && e.sn < len(buf) {
		n, err := readQueued(e.cfd, buf[e.sn:], 0, &e.cr)
		switch {
		case err == io.EOF && e.sn > 0:
			e.decide(KindData, now) // the relay meets the EOF again
			return
		case err != nil:
			e.finish(endReason("client", err), err)
			return
		case n == 0:
			return // nothing queued
		}
		room := len(buf) - e.sn
		e.sn += n
		if k := Sniff(buf[:e.sn]); k != KindUnknown {
			e.decide(k, now)
			return
		}
		if n < room && !e.chup {
			e.cr = false // took everything queued: the next bytes bring an edge
		}
	}
	if e.sn == len(buf) {
		e.decide(KindData, now)
	}
}

// decide routes a sniffed connection as conn.dispatch does.
func (e *evConn) decide(kind Kind, now int64) {
	rt := e.h.rt
	e.kind = kind
	switch {
	case kind == KindTLS && rt.tls != nil, kind == KindHTTP && rt.policyAnswer != nil:
		e.handOver(kind)
		return
	case kind == KindPolicy && rt.policyAnswer != nil:
		e.state = evAnswering
		e.last = now
		e.up.n = int64(len(policyRequest))
		if err := e.write(&e.down, e.cfd, rt.policyAnswer, &e.cw); err != nil {
			e.finish(endReason("client", err), err)
			return
		}
		e.answer()
		return
	case rt.backend == nil: // policy only: nothing else is served here
		e.up.n = int64(e.sn)
		reason := "not a policy request"
		if kind == KindSilent || kind == KindUnknown {
			reason = "no policy request within sniff_timeout"
		}
		e.finish(reason, nil)
		return
	}
	// To the backend, the sniffed bytes first. TLS passed through and
	// HTTP without a policy are relayed unframed.
	if rt.cfg.Protocol == "xml" && kind != KindTLS && kind != KindHTTP {
		up, down := xmlModes(rt.backend.cfg.Framing)
		e.up.f, e.down.f = newFramer(up, rt.cfg.MaxMessage), newFramer(down, rt.cfg.MaxMessage)
	}
	if e.sn > 0 {
		prefix := e.h.buf[:e.sn]
		end := len(prefix)
		if e.up.f != nil {
			// Over max_message: the messages before it still reach the
			// backend, then the relay ends (move returns ferr).
			_, end, e.up.ferr = e.up.f.frame(prefix, 0, len(prefix))
		}
		e.up.pend = copyBufPool.Get().(*[]byte)
		e.up.off, e.up.end = 0, copy(*e.up.pend, prefix[:end])
	}
	e.toBackend(now)
}

// answer finishes writing the policy answer, then closes like
// conn.answerPolicy: write side first, then the socket.
func (e *evConn) answer() {
	if e.down.pending() {
		if !e.cw {
			return
		}
		if err := e.flush(&e.down, e.cfd, &e.cw); err != nil {
			e.finish(endReason("client", err), err)
			return
		}
		if e.down.pending() {
			return
		}
	}
	_ = sysShutdown(e.cfd, unix.SHUT_WR)
	e.h.gw.policyServed(e.h.l)
	e.finish("policy served", nil)
}

// handOver leaves the loop: the client socket becomes a Go connection and a
// goroutine runs it on from the sniffed bytes (conn.serveSniffed).
func (e *evConn) handOver(kind Kind) {
	h := e.h
	_ = sysEpollCtl(e.loop.epfd, unix.EPOLL_CTL_DEL, e.cfd, &unix.EpollEvent{})
	fd := e.detach()
	f := os.NewFile(uintptr(fd), "client")
	c, err := net.FileConn(f) // a duplicate in the Go poller
	f.Close()
	if err != nil {
		h.finish(summary{kind: kind, res: relayResult{Reason: reasonClientError, Err: fmt.Errorf("hand over: %w", err)}})
		return
	}
	tc := c.(*net.TCPConn)
	h.mu.Lock()
	h.ev = nil
	h.c, h.cc = tc, tc
	closing := h.closing
	h.mu.Unlock()
	if closing != "" {
		tc.Close() // shutdown came first: the Go path ends at once with its reason
	}
	go h.serveSniffed(e.sn, kind)
}

// moveFramed reads one chunk and writes its complete XMLSocket framing on;
// reads land at buf[1:] so line framing can put back a held '\r'.
func (e *evConn) moveFramed(d *evDir, src, dst int, srcReady, srcHup, dstReady *bool, now int64) (int, error) {
	buf := e.loop.buf
	n, err := readQueued(src, buf[1:], 0, srcReady)
	if err == io.EOF {
		d.eof = true
		if tail := d.f.flush(); tail != nil {
			return 0, e.write(d, dst, tail, dstReady)
		}
		return 0, nil
	}
	if err != nil || n == 0 {
		return 0, err
	}
	e.last = now
	if n < len(buf)-1 && !*srcHup {
		*srcReady = false
	}
	start, end, ferr := d.f.frame(buf, 1, n)
	d.ferr = ferr // returned by move once what came before is out
	if end > start {
		if err := e.write(d, dst, buf[start:end], dstReady); err != nil {
			return n, err
		}
	}
	return n, nil
}
