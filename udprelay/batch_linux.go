package udprelay

import (
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux datagrams move in batches: recvmmsg takes up to batchSize queued
// datagrams from a socket in one call, and sendmmsg sends a session's
// replies to its client in one. Both run inside RawConn callbacks, so Go's
// poller still does the waiting, and on raw system calls: the sockets are
// non-blocking, so the calls never block.

// batchSize is the most datagrams one recvmmsg or sendmmsg moves. Each slot
// holds a MaxDatagram buffer, so a batch costs batchSize of them while in use.
const batchSize = 8

// mmsghdr is struct mmsghdr: Go pads it to its alignment, as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// batch is the scratch of one recvmmsg or sendmmsg.
type batch struct {
	hdrs  [batchSize]mmsghdr
	iovs  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrInet6 // sources (the listener's batch), or the destination in names[0]
	bufs  [batchSize][]byte
	n     int // datagrams received, or queued to send
	sent  int // of n, handed to the kernel or given up
	err   error

	okN, okBytes int // sent: datagrams and their bytes
	full, other  int // refused by the kernel: buffer full, or another error
}

func (r *Relay) initBatches(size int) {
	r.batches.New = func() any { return newBatch(size) }
}

func newBatch(size int) *batch {
	b := &batch{}
	mem := make([]byte, size*batchSize)
	for i := range b.bufs {
		b.bufs[i] = mem[i*size : (i+1)*size : (i+1)*size]
	}
	return b
}

// recv reads up to batchSize datagrams from the non-blocking socket fd,
// with their source addresses when names is set. It reports false when
// nothing is queued (wait for readability); errors land in b.err.
func (b *batch) recv(fd uintptr, names bool) bool {
	for i := range b.hdrs {
		h := &b.hdrs[i].hdr
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(len(b.bufs[i]))
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Name, h.Namelen = nil, 0
		if names {
			h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
			h.Namelen = uint32(unsafe.Sizeof(b.names[i]))
		}
		h.Flags = 0
	}
	b.n, b.err = 0, nil
	for {
		r, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), batchSize, 0, 0, 0)
		switch errno {
		case 0:
			b.n = int(r)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			b.err = errno
			return true
		}
	}
}

// len is the size of datagram i as received: more than MaxDatagram means
// it did not fit (the buffers hold one byte more than allowed).
func (b *batch) len(i int) int { return int(b.hdrs[i].n) }

// send hands datagrams sent..n to the kernel on the non-blocking socket fd,
// each to the address in its header, counting them in okN and okBytes. It
// reports false when the socket buffer is full (wait for writability). A
// datagram the kernel refuses is counted in full or other and skipped.
func (b *batch) send(fd uintptr) bool {
	for b.sent < b.n {
		r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[b.sent])), uintptr(b.n-b.sent), 0, 0, 0)
		switch errno {
		case 0:
			for i := b.sent; i < b.sent+int(r); i++ {
				b.okBytes += int(b.iovs[i].Len)
			}
			b.okN += int(r)
			b.sent += int(r)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			// sendmmsg reports an error only for the first datagram. The
			// client may be gone; the listener is shared, so go on.
			if isFull(errno) {
				b.full++
			} else {
				b.other++
			}
			b.sent++
		}
	}
	return true
}

// sockaddrAddrPort reads a source address the kernel wrote, the way the net
// package does: IPv4 as 4 bytes, IPv6 (v4-mapped too) as 16 with its zone.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6) (netip.AddrPort, bool) {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), ntohs(sa4.Port)), true
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			a = a.WithZone(zoneName(int(sa.Scope_id)))
		}
		return netip.AddrPortFrom(a, ntohs(sa.Port)), true
	}
	return netip.AddrPort{}, false
}

// putSockaddr writes ap as the socket address the listener sends to: a
// 4-byte address as sockaddr_in, any other as sockaddr_in6, the forms
// sockaddrAddrPort read from the same socket. It returns the length.
func putSockaddr(sa *unix.RawSockaddrInet6, ap netip.AddrPort) uint32 {
	*sa = unix.RawSockaddrInet6{}
	a := ap.Addr()
	if a.Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		sa4.Family = unix.AF_INET
		sa4.Port = htons(ap.Port())
		sa4.Addr = a.As4()
		return unix.SizeofSockaddrInet4
	}
	sa.Family = unix.AF_INET6
	sa.Port = htons(ap.Port())
	sa.Addr = a.As16()
	if z := a.Zone(); z != "" {
		if ifi, err := net.InterfaceByName(z); err == nil {
			sa.Scope_id = uint32(ifi.Index)
		} else if n, err := strconv.Atoi(z); err == nil {
			sa.Scope_id = uint32(n)
		}
	}
	return unix.SizeofSockaddrInet6
}

// zoneName names interface index i, as the net package does for zones.
func zoneName(i int) string {
	if ifi, err := net.InterfaceByIndex(i); err == nil {
		return ifi.Name
	}
	return strconv.Itoa(i)
}

// ntohs and htons turn the port between network byte order, as it sits in
// a socket address's memory, and a number.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func htons(p uint16) uint16 {
	var n uint16
	b := (*[2]byte)(unsafe.Pointer(&n))
	b[0], b[1] = byte(p>>8), byte(p)
	return n
}

// listenerReader reads client datagrams from the listening socket in
// batches.
type listenerReader struct {
	raw syscall.RawConn
	b   *batch
	fn  func(fd uintptr) bool
}

func (r *Relay) newReader() (*listenerReader, error) {
	lr := &listenerReader{raw: r.lnRaw, b: newBatch(r.cfg.MaxDatagram + 1)}
	lr.fn = func(fd uintptr) bool { return lr.b.recv(fd, true) }
	return lr, nil
}

// read waits for datagrams and returns how many arrived.
func (lr *listenerReader) read() (int, error) {
	if err := lr.raw.Read(lr.fn); err != nil {
		return 0, err
	}
	if lr.b.err != nil {
		return 0, lr.b.err
	}
	return lr.b.n, nil
}

// datagram is datagram i of the last read: its source and its bytes (one
// more than MaxDatagram when it was larger), ok false for a source address
// that is not IP.
func (lr *listenerReader) datagram(i int) (netip.AddrPort, []byte, bool) {
	from, ok := sockaddrAddrPort(&lr.b.names[i])
	return from, lr.b.bufs[i][:lr.b.len(i)], ok
}

func (lr *listenerReader) release() {}

// replyState is a session's reply path: its client's socket address, and
// the batch it holds between reading replies and sending them.
type replyState struct {
	b     *batch
	to    unix.RawSockaddrInet6
	toLen uint32
	rfn   func(fd uintptr) bool // RawConn callbacks, made once per session
	wfn   func(fd uintptr) bool
}

func (s *session) initReplies() {
	s.toLen = putSockaddr(&s.to, s.client)
	s.rfn = func(fd uintptr) bool {
		b := s.r.batches.Get().(*batch)
		if !b.recv(fd, false) {
			s.r.batches.Put(b)
			return false
		}
		s.b = b
		return true
	}
	s.wfn = func(fd uintptr) bool { return s.b.send(fd) }
}

// readReplies waits until the backend socket has replies and reads a batch
// of them; an idle session holds no buffer.
func (s *session) readReplies(bc *backendConn) error {
	if err := bc.raw.Read(s.rfn); err != nil {
		return err
	}
	if err := s.b.err; err != nil {
		s.r.batches.Put(s.b)
		s.b = nil
		return err
	}
	return nil
}

// sendReplies sends the batch readReplies read to the client, from the
// listening socket, dropping (and counting) any over MaxDatagram.
func (s *session) sendReplies() {
	b := s.b
	max := s.r.cfg.MaxDatagram
	j := 0
	for i := 0; i < b.n; i++ {
		n := b.len(i)
		if n > max {
			s.r.c.oversize.Add(1)
			continue
		}
		b.iovs[j].Base = &b.bufs[i][0]
		b.iovs[j].SetLen(n)
		h := &b.hdrs[j].hdr
		h.Iov = &b.iovs[j]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&s.to))
		h.Namelen = s.toLen
		h.Flags = 0
		j++
	}
	b.n, b.sent, b.okN, b.okBytes, b.full, b.other = j, 0, 0, 0, 0, 0
	if j > 0 {
		if err := s.r.lnRaw.Write(s.wfn); err != nil {
			// The listener is closed or its deadline passed (shutdown):
			// the rest of the batch is lost with the relay.
			b.other += b.n - b.sent
		}
		if b.okN > 0 {
			s.replied(b.okN, b.okBytes)
		}
		s.r.c.full.Add(uint64(b.full))
		s.r.c.other.Add(uint64(b.other))
	}
	s.b = nil
	s.r.batches.Put(b)
}
