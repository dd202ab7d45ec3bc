package stream

import (
	"errors"
	"net/http"
	"testing"
)

func TestCheckUpgrade(t *testing.T) {
	good := func() *http.Request {
		r, _ := http.NewRequest("GET", "http://h/chat", nil)
		r.Header.Set("Connection", "keep-alive, Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-WebSocket-Version", "13")
		r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		return r
	}
	if err := CheckUpgrade(good()); err != nil {
		t.Fatalf("good handshake refused: %v", err)
	}
	for name, spoil := range map[string]func(*http.Request){
		"method":     func(r *http.Request) { r.Method = "POST" },
		"http/1.0":   func(r *http.Request) { r.ProtoMajor, r.ProtoMinor = 1, 0 },
		"connection": func(r *http.Request) { r.Header.Set("Connection", "keep-alive") },
		"upgrade":    func(r *http.Request) { r.Header.Set("Upgrade", "h2c") },
		"version 8":  func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") },
		"no version": func(r *http.Request) { r.Header.Del("Sec-WebSocket-Version") },
		"short key":  func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "c2hvcnQ=") },
		"bad key":    func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "!!!not base64!!!") },
		"no key":     func(r *http.Request) { r.Header.Del("Sec-WebSocket-Key") },
	} {
		r := good()
		spoil(r)
		if err := CheckUpgrade(r); !errors.Is(err, ErrBadUpgrade) {
			t.Errorf("%s: %v, want ErrBadUpgrade", name, err)
		}
	}
}
