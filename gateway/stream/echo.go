package stream

import (
	"net"
	"time"
)

// Echo serves the builtin echo backend: every byte the client sends,
// prefix first, comes straight back, through the relay's direction (no
// pooled buffer while idle). EOF from the client half-closes the echo; the
// connection is closed when Echo returns.
func Echo(client net.Conn, prefix []byte, idle time.Duration) Result {
	r := &relay{client: client, backend: client, idle: idle}
	r.touch()
	var n int64
	if len(prefix) > 0 {
		w, err := client.Write(prefix)
		n = int64(w)
		if err != nil {
			client.Close()
			return Result{Up: n, Down: n, Reason: ReasonClientError, Err: err}
		}
	}
	d := newDirection(client, client, "client", "client", nil)
	r.pipe(d)
	client.Close()
	return Result{Up: n + d.n, Down: n + d.n, Reason: r.reason, Err: r.err}
}
