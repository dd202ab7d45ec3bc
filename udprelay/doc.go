// Package udprelay relays UDP datagrams between clients (AIR's
// DatagramSocket) and backends, one session per client address.
//
// UDP has no connection, so the relay keeps one session per client
// address:port. Each session owns a connected backend socket, so the backend
// sees one peer per client and its replies find their way back: a goroutine
// per session reads them and sends them to the client from the listening
// socket. A session ends after IdleTimeout without a datagram either way.
// On Linux datagrams move in batches: the read loop takes up to eight queued
// client datagrams per recvmmsg, and a session takes up to eight queued
// replies per recvmmsg and sends them with one sendmmsg.
//
// Limits: MaxSessions caps the table (datagrams from new clients beyond it
// are refused and counted); MaxDatagram drops and counts larger datagrams in
// either direction. AIR sends a whole ByteArray as one datagram; above 1472
// bytes (IPv4 on a 1500-byte MTU; 1452 for IPv6) it is fragmented at the IP
// layer, and one lost fragment loses the datagram, so 1472 is a sound limit.
//
// A backend that answers ICMP port unreachable (ECONNREFUSED on the connected
// socket) is counted and the relay moves on to the next backend in the list.
// Nothing is logged per datagram; each session logs one line when it ends.
//
// Typical use:
//
//	r, err := udprelay.New(udprelay.Config{
//		Name:        "voice",
//		Listen:      "[::]:55555",
//		Backends:    []string{"10.0.0.7:55555"},
//		IdleTimeout: time.Minute,
//		MaxDatagram: 1472,
//		MaxSessions: 10000,
//	}, log)
//	if err != nil {
//		return err
//	}
//	defer r.Close()
//	return r.Serve(ctx) // until ctx is done or Close; Stats() and Sessions() meanwhile
//
// To keep the socket across a reload, bind it yourself and use NewWithConn:
// Close then leaves the socket open for the next relay.
package udprelay
