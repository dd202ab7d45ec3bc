// Package evloop is the gateway's Linux event-loop engine: each loop owns an
// epoll instance and relays the connections handed to it (sniffing, PROXY
// headers, policy answers, the non-blocking dial of the backend, splicing)
// without a goroutine per connection. It knows nothing of configuration or
// of the gateway: each connection brings a Host that answers the questions
// only the gateway can (what to do with what was sniffed, whom to dial,
// whom to admit) and takes the connection's summary at its end.
//
// Outside Linux, New returns ErrUnsupported.
package evloop

import (
	"errors"
	"net/netip"
	"time"

	"github.com/flashgate/flashgate/gateway/wire"
)

// ErrUnsupported is New's error where there is no epoll.
var ErrUnsupported = errors.New("event loops need Linux epoll")

// ErrIdle is the error of a connection that ended at its idle timeout.
var ErrIdle = errors.New("idle timeout")

// Reasons the loop gives in a Summary (besides "<side> closed", "<side>
// error" and "<side> message over max_message").
const (
	ReasonShutdown        = "shutdown"
	ReasonIdle            = "idle timeout"
	ReasonClientError     = "client error"
	ReasonBackendError    = "backend error"
	ReasonUnreachable     = "backend unreachable"
	ReasonPolicyServed    = "policy served"
	ReasonNotPolicy       = "not a policy request"
	ReasonNoPolicyInSniff = "no policy request within sniff_timeout"
)

// Settings is what a connection's listener asks of the loop; Host.Settings
// gives it once, when the connection is added.
type Settings struct {
	Start        time.Time     // when the connection was accepted: the PROXY and sniff timeouts count from it
	IdleTimeout  time.Duration // 0: none
	SniffTimeout time.Duration // 0: none; counts from the PROXY header's end when there is one
	Transparent  bool          // no sniffing: the loop dials the backend at once
	ProxyIn      string        // "", "v1" or "v2": the PROXY header the client sends first
	ProxyTimeout time.Duration // how long the client's PROXY header may take
	SniffBuf     []byte        // where the first bytes are sniffed (wire.MaxSniff long); HandOver leaves them there
}

// Action is what Host.Decide wants done with a sniffed connection.
type Action uint8

// Actions.
const (
	ToBackend Action = iota // relay to the backend, the sniffed bytes first
	Answer                  // write Decision.Answer (the policy file), then close
	HandOver                // leave the loop: Host.HandOver runs it on a goroutine
	Close                   // end the connection with Decision.Reason
)

// Decision is Host.Decide's answer.
type Decision struct {
	Action Action
	Answer []byte // Answer: the bytes to write (not copied, not modified)
	Reason string // Close: the summary's reason
	// ToBackend: frame XMLSocket messages in each direction (Framed), at
	// most MaxMessage bytes each (0: no limit).
	Framed     bool
	Up, Down   wire.FrameMode
	MaxMessage int64
}

// Dialer is the way to one connection's backend: the gateway walks the
// backend's servers (gateway/upstream/dialing.go), the loop connects
// without blocking to each address it is given.
type Dialer interface {
	// Resolved reports whether the backend's host names are resolved; the
	// loop waits (within ConnectTimeout) while they are not.
	Resolved() bool
	// Unresolved is the error when they were not within ConnectTimeout.
	Unresolved() error
	ConnectTimeout() time.Duration
	// ProxyOut is the PROXY header version the backend wants ("": none).
	ProxyOut() string
	// Start begins the walk through the servers.
	Start()
	// NextAddr is the next address to connect to, false when none is left.
	NextAddr() (netip.AddrPort, bool)
	// Failed reports that the connect to the last address failed.
	Failed(err error)
	// Connected reports that it succeeded.
	Connected()
	// Err is the error once NextAddr has reported none left.
	Err() error
}

// Host is the gateway's side of one connection. The loop calls it from its
// own goroutine only, never while holding a lock.
type Host interface {
	Settings() Settings
	// Decide routes a connection from what the sniffer found in prefix.
	Decide(kind wire.Kind, prefix []byte) Decision
	// AdmitProxied applies a client's PROXY header (the real client and
	// the address it connected to) and reports the reason to reject it
	// ("" admits).
	AdmitProxied(hdr wire.ProxyHeader) (reject string)
	// Reject takes a connection refused after its PROXY header: fd is the
	// Host's now (to reset and close). reason is AdmitProxied's, or ""
	// for a missing or malformed header (err says why). No Finish follows.
	Reject(fd int, reason string, err error)
	// Addrs are the client's address and the one it connected to (zero:
	// unknown; the loop asks the socket), for the backend's PROXY header.
	Addrs() (client, local netip.AddrPort)
	// Dialer is the connection's way to its backend.
	Dialer() Dialer
	// PolicyServed counts a policy answer written in full.
	PolicyServed()
	// HandOver takes the client socket off the loop: fd is the Host's now,
	// the first sniffed bytes of Settings.SniffBuf are the client's first
	// bytes. No Finish follows.
	HandOver(fd int, sniffed int, kind wire.Kind)
	// Finish reports the connection's end; both sockets are closed.
	Finish(s Summary)
}

// Summary is a connection's end as the loop saw it.
type Summary struct {
	Kind     wire.Kind
	Up, Down int64 // bytes relayed (a PROXY header sent to the backend is not counted)
	Spliced  int64 // of those, bytes moved by splice
	Framed   bool  // XMLSocket messages were framed; MsgsUp and MsgsDown count them
	MsgsUp   int64
	MsgsDown int64
	Reason   string // "" after Conn.Abort: the Host knows why
	Err      error
}
