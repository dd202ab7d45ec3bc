package stream

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/flashgate/flashgate/gateway/wire"
)

// MaxHead bounds a request head: browsers send far less (a WebSocket
// handshake is ~500 bytes).
const MaxHead = 8 << 10

// ErrHeadTooLarge is ReadHead's error for a head over MaxHead.
var ErrHeadTooLarge = errors.New("request head over 8 KiB")

// ReadHead reads from c, after the bytes already in buf, until the request
// head is complete (wire.HeadEnd). It returns the grown buffer and the
// head's length, or -1 with the error that stopped it (ErrHeadTooLarge
// beyond MaxHead). The caller bounds it with a read deadline.
func ReadHead(c net.Conn, buf []byte) ([]byte, int, error) {
	for {
		if n := wire.HeadEnd(buf); n >= 0 {
			return buf, n, nil
		}
		if len(buf) >= MaxHead {
			return buf, -1, ErrHeadTooLarge
		}
		if cap(buf) == len(buf) {
			nb := make([]byte, len(buf), MaxHead)
			copy(nb, buf)
			buf = nb
		}
		m, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if n := wire.HeadEnd(buf); n >= 0 {
				return buf, n, nil
			}
			return buf, -1, err
		}
	}
}

// WriteHTTPError writes a short plain-text HTTP error response (reason as
// its body) that closes the connection, and reports the bytes written. The
// caller sets the write deadline and closes.
func WriteHTTPError(c net.Conn, code int, reason string) (int, error) {
	body := reason + "\n"
	resp := "HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + strconv.Itoa(len(body)) +
		"\r\nConnection: close\r\n\r\n" + body
	return io.WriteString(c, resp)
}

// PolicyResponse returns the whole HTTP response serving body, a URL policy
// (crossdomain.xml), cacheable for 5 minutes, closing the connection.
func PolicyResponse(body []byte) []byte {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/x-cross-domain-policy\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\nCache-Control: max-age=300\r\nConnection: close\r\n\r\n")
	return append(resp, body...)
}
