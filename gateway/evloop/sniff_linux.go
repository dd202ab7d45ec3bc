package evloop

import (
	"errors"
	"io"

	"golang.org/x/sys/unix"

	"github.com/flashgate/flashgate/gateway/wire"
)

// Multiplexed listeners on the event loops: the loop reads the first bytes
// and sniffs them (wire.Sniff); the Host decides. Policy requests are
// answered and binary or XMLSocket traffic is relayed in the loop; what the
// loop does not serve (TLS to terminate, HTTP) is handed over to the Host
// with the bytes sniffed.

// sniff reads the client's first bytes until the sniffer decides.
func (e *Conn) sniff(now int64) {
	buf := e.sbuf
	for e.cr && e.sn < len(buf) {
		n, err := readQueued(e.cfd, buf[e.sn:], 0, &e.cr)
		switch {
		case err == io.EOF && e.sn > 0:
			e.decide(wire.KindData, now) // the relay meets the EOF again
			return
		case err != nil:
			e.finish(endReason("client", err), err)
			return
		case n == 0:
			return // nothing queued
		}
		room := len(buf) - e.sn
		e.sn += n
		if k := wire.Sniff(buf[:e.sn]); k != wire.KindUnknown {
			e.decide(k, now)
			return
		}
		if n < room && !e.chup {
			e.cr = false // took everything queued: the next bytes bring an edge
		}
	}
	if e.sn == len(buf) {
		e.decide(wire.KindData, now)
	}
}

// decide routes a sniffed connection as its Host decides.
func (e *Conn) decide(kind wire.Kind, now int64) {
	e.kind = kind
	d := e.h.Decide(kind, e.sbuf[:e.sn])
	switch d.Action {
	case HandOver:
		e.handOver(kind)
		return
	case Answer:
		e.state = evAnswering
		e.last = now
		e.up.n = int64(len(wire.PolicyRequest))
		if err := e.write(&e.down, e.cfd, d.Answer, &e.cw); err != nil {
			e.finish(endReason("client", err), err)
			return
		}
		e.answer()
		return
	case Close:
		e.up.n = int64(e.sn)
		e.finish(d.Reason, nil)
		return
	}
	// To the backend, the sniffed bytes first.
	if d.Framed {
		e.up.f, e.down.f = wire.NewFramer(d.Up, d.MaxMessage), wire.NewFramer(d.Down, d.MaxMessage)
	}
	if e.sn > 0 {
		prefix := e.sbuf[:e.sn]
		end := len(prefix)
		if e.up.f != nil {
			// Over max_message: the messages before it still reach the
			// backend, then the relay ends (move returns ferr).
			_, end, e.up.ferr = e.up.f.Frame(prefix, 0, len(prefix))
		}
		e.up.pend = bufPool.Get().(*[]byte)
		e.up.off, e.up.end = 0, copy(*e.up.pend, prefix[:end])
	}
	e.toBackend(now)
}

// endReason names how a side ended outside the relay proper.
func endReason(side string, err error) string {
	if errors.Is(err, io.EOF) {
		return side + " closed"
	}
	return side + " error"
}

// answer finishes writing the policy answer, then closes: write side
// first, then the socket.
func (e *Conn) answer() {
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
	e.h.PolicyServed()
	e.finish(ReasonPolicyServed, nil)
}

// handOver leaves the loop: the client socket goes to the Host, which runs
// it on from the sniffed bytes.
func (e *Conn) handOver(kind wire.Kind) {
	_ = sysEpollCtl(e.loop.epfd, unix.EPOLL_CTL_DEL, e.cfd, &unix.EpollEvent{})
	fd := e.detach()
	e.h.HandOver(fd, e.sn, kind)
}

// moveFramed reads one chunk and writes its complete XMLSocket framing on;
// reads land at buf[1:] so line framing can put back a held '\r'.
func (e *Conn) moveFramed(d *evDir, src, dst int, srcReady, srcHup, dstReady *bool, now int64) (int, error) {
	buf := e.loop.buf
	n, err := readQueued(src, buf[1:], 0, srcReady)
	if err == io.EOF {
		d.eof = true
		if tail := d.f.Flush(); tail != nil {
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
	start, end, ferr := d.f.Frame(buf, 1, n)
	d.ferr = ferr // returned by move once what came before is out
	if end > start {
		if err := e.write(d, dst, buf[start:end], dstReady); err != nil {
			return n, err
		}
	}
	return n, nil
}
