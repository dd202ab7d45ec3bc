//go:build !unix

package stream

import "syscall"

// canWait: without MSG_PEEK a raw socket is not waited on; its direction
// reads into its small array instead.
const canWait = false

// queued reports false: the relay keeps reading into a direction's small
// array, holding no pooled buffer while it waits.
func queued(syscall.RawConn) bool { return false }

// peerGone cannot tell here; a stalled relay ends at its idle timeout.
func peerGone(syscall.RawConn) error { return nil }

// queuedBytes is not known here: 0, and callers read in small pieces.
func queuedBytes(syscall.RawConn) int { return 0 }

// poll is never called here (canWait is false): it reports the socket
// ready so a read decides.
func (w *readWaiter) poll(uintptr) bool { return true }
