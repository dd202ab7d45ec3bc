package evloop

import "golang.org/x/sys/unix"

// setToken stores a token in an epoll event's data (Fd and Pad: 8 bytes);
// the event loops (loops_linux.go) find their connection by it.
func setToken(ev *unix.EpollEvent, tok uint64) {
	ev.Fd = int32(uint32(tok))
	ev.Pad = int32(uint32(tok >> 32))
}

// token reads the token setToken stored.
func token(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}
