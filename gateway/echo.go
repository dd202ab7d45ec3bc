package gateway

import (
	"net"
	"time"
)

// runEcho serves the builtin echo backend: every byte the client sends,
// prefix first, comes straight back. EOF from the client half-closes the
// echo; the connection is closed when runEcho returns.
func runEcho(client net.Conn, prefix []byte, idle time.Duration) relayResult {
	r := &relay{client: client, backend: client, idle: idle}
	r.touch()
	var n int64
	if len(prefix) > 0 {
		w, err := client.Write(prefix)
		n = int64(w)
		if err != nil {
			client.Close()
			return relayResult{Up: n, Down: n, Reason: reasonClientError, Err: err}
		}
	}
	d := newDirection(client, client, "client", "client", nil)
	r.pipe(d)
	client.Close()
	return relayResult{Up: n + d.n, Down: n + d.n, Reason: r.reason, Err: r.err}
}
