package stream

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
)

// ErrBadUpgrade is a WebSocket opening handshake that a server must refuse
// (RFC 6455 section 4.2.1).
var ErrBadUpgrade = errors.New("bad websocket handshake")

// CheckUpgrade checks a WebSocket opening handshake whole — method, HTTP
// version, Upgrade and Connection headers, the key and the version — so
// that a request Bridge would refuse is refused before any backend is
// dialed. The error wraps ErrBadUpgrade and names what is wrong.
func CheckUpgrade(req *http.Request) error {
	bad := func(what string) error { return errors.Join(ErrBadUpgrade, errors.New(what)) }
	switch {
	case req.Method != http.MethodGet:
		return bad("method " + req.Method + ", want GET")
	case !req.ProtoAtLeast(1, 1):
		return bad("HTTP/1.1 or later required")
	case !headerHasToken(req.Header, "Connection", "upgrade"):
		return bad("Connection header without upgrade")
	case !headerHasToken(req.Header, "Upgrade", "websocket"):
		return bad("Upgrade header without websocket")
	case req.Header.Get("Sec-WebSocket-Version") != "13":
		return bad("Sec-WebSocket-Version must be 13")
	}
	key := strings.TrimSpace(req.Header.Get("Sec-WebSocket-Key"))
	if b, err := base64.StdEncoding.DecodeString(key); err != nil || len(b) != 16 {
		return bad("Sec-WebSocket-Key is not 16 bytes in base64")
	}
	return nil
}

// headerHasToken reports whether a comma-separated header holds token,
// case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
