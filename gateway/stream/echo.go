package stream

import (
	"net"
)

// Echo serves the builtin echo backend: every byte the client sends,
// prefix first, comes straight back, through the relay's direction (no
// pooled buffer while idle). EOF from the client half-closes the echo; the
// connection is closed when Echo returns.
func Echo(client net.Conn, prefix []byte, o Options) Result {
	r := &relay{client: client, backend: client, idle: o.Idle}
	r.touch()
	var n int64
	if len(prefix) > 0 {
		end, ferr := len(prefix), error(nil)
		if o.Up != nil {
			_, end, ferr = o.Up.Frame(prefix, 0, len(prefix))
		}
		w, err := client.Write(prefix[:end])
		n = int64(w)
		if err != nil || ferr != nil {
			client.Close()
			res := Result{Up: int64(len(prefix)), Down: n, Reason: ReasonClientError, Err: err}
			if ferr != nil {
				res.Reason, res.Err = "client message over max_message", ferr
			}
			if o.Up != nil {
				res.MsgsUp, res.MsgsDown = o.Up.Msgs(), o.Up.Msgs()
			}
			return res
		}
	}
	d := newDirection(client, client, "client", "client", o.Up)
	r.pipe(d)
	client.Close()
	res := Result{Up: n + d.n, Down: n + d.n, Reason: r.reason, Err: r.err}
	if o.Up != nil {
		res.MsgsUp, res.MsgsDown = o.Up.Msgs(), o.Up.Msgs()
	}
	return res
}
