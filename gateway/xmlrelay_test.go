package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// runFramer feeds chunks through a framer as the relay does (one spare byte
// in front) and returns the concatenated output.
func runFramer(t testing.TB, f *framer, chunks ...string) (string, error) {
	var out []byte
	for _, c := range chunks {
		buf := make([]byte, len(c)+1)
		copy(buf[1:], c)
		start, end, err := f.frame(buf, 1, len(c))
		out = append(out, buf[start:end]...)
		if err != nil {
			return string(out), err
		}
	}
	out = append(out, f.flush()...)
	return string(out), nil
}

func TestFramerNUL(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   string
		msgs   int64
	}{
		{"one", []string{"<a/>\x00"}, "<a/>\x00", 1},
		{"two in one read", []string{"<a/>\x00<b/>\x00"}, "<a/>\x00<b/>\x00", 2},
		{"split across reads", []string{"<hel", "lo/>", "\x00<b", "/>\x00"}, "<hello/>\x00<b/>\x00", 2},
		{"partial at end", []string{"<a/>\x00<b"}, "<a/>\x00<b", 1},
		{"empty messages", []string{"\x00\x00"}, "\x00\x00", 2},
		{"newlines kept", []string{"<a>\r\n</a>\x00"}, "<a>\r\n</a>\x00", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFramer(frameNUL, 64)
			got, err := runFramer(t, f, tt.chunks...)
			if err != nil || got != tt.want || f.msgs != tt.msgs {
				t.Errorf("got %q, %d msgs, %v; want %q, %d msgs", got, f.msgs, err, tt.want, tt.msgs)
			}
		})
	}
}

func TestFramerMaxMessage(t *testing.T) {
	tests := []struct {
		name   string
		mode   int
		chunks []string
		want   string // delivered before the error
	}{
		{"nul exact fits", frameNUL, []string{"12345\x00"}, ""},
		{"nul over in one read", frameNUL, []string{"ok\x00123456\x00"}, "ok\x00"},
		{"nul over across reads", frameNUL, []string{"ok\x00123", "456"}, "ok\x00123"},
		{"nul over in one read after partial", frameNUL, []string{"ok\x0012", "3456"}, "ok\x0012"},
		{"line over", frameLineNUL, []string{"ok\n123456\n"}, "ok\x00"},
		{"line over, CRLF not counted", frameLineNUL, []string{"12345\r\n123456\r\n"}, "12345\x00"},
		{"line over across reads", frameLineNUL, []string{"ab\n1234", "56"}, "ab\x001234"},
		{"nul to line over", frameNULLine, []string{"a\x00123456"}, "a\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFramer(tt.mode, 5)
			got, err := runFramer(t, f, tt.chunks...)
			if tt.name == "nul exact fits" {
				if err != nil {
					t.Fatalf("5-byte message refused with max 5: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrMessageTooLarge) {
				t.Fatalf("err = %v, want ErrMessageTooLarge", err)
			}
			if got != tt.want {
				t.Errorf("delivered %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFramerLines(t *testing.T) {
	tests := []struct {
		name   string
		mode   int
		chunks []string
		want   string
		msgs   int64
	}{
		{"nul to line", frameNULLine, []string{"<a/>\x00<b/>\x00"}, "<a/>\n<b/>\n", 2},
		{"nul to line split", frameNULLine, []string{"<a/", ">\x00<b", "/>\x00"}, "<a/>\n<b/>\n", 2},
		{"lf", frameLineNUL, []string{"hello\nworld\n"}, "hello\x00world\x00", 2},
		{"crlf", frameLineNUL, []string{"hello\r\nworld\r\n"}, "hello\x00world\x00", 2},
		{"crlf split between cr and lf", frameLineNUL, []string{"hello\r", "\nworld\r", "\n"}, "hello\x00world\x00", 2},
		{"lone cr at chunk end is data", frameLineNUL, []string{"a\r", "b\n"}, "a\rb\x00", 1},
		{"lone cr inside is data", frameLineNUL, []string{"a\rb\n"}, "a\rb\x00", 1},
		{"cr at eof kept", frameLineNUL, []string{"a\r"}, "a\r", 0},
		{"partial line", frameLineNUL, []string{"abc\nde", "f\n"}, "abc\x00def\x00", 2},
		{"empty lines", frameLineNUL, []string{"\n\r\n"}, "\x00\x00", 2},
		{"split into single bytes", frameLineNUL, []string{"a", "\r", "\n", "\r", "\r", "\n"}, "a\x00\r\x00", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFramer(tt.mode, 64)
			got, err := runFramer(t, f, tt.chunks...)
			if err != nil || got != tt.want || f.msgs != tt.msgs {
				t.Errorf("got %q, %d msgs, %v; want %q, %d msgs", got, f.msgs, err, tt.want, tt.msgs)
			}
		})
	}
}

// FuzzXMLFraming: the framer never panics; NUL framing changes no byte; NUL
// to line replaces exactly the NULs; line to NUL output, with NULs read as
// "\n", equals the input with "\r\n" read as "\n".
func FuzzXMLFraming(f *testing.F) {
	f.Add([]byte("<a/>\x00<b/>\x00"), uint8(3), int64(0))
	f.Add([]byte("line\r\nline\n\r"), uint8(1), int64(4))
	f.Add([]byte("\r\r\n\x00\n"), uint8(2), int64(1))
	f.Fuzz(func(t *testing.T, data []byte, split uint8, max int64) {
		if max < 0 {
			max = -max
		}
		for _, mode := range []int{frameNUL, frameNULLine, frameLineNUL} {
			fr := newFramer(mode, max)
			var chunks []string
			step := int(split%16) + 1
			for i := 0; i < len(data); i += step {
				chunks = append(chunks, string(data[i:min(i+step, len(data))]))
			}
			got, err := runFramer(t, fr, chunks...)
			if err != nil {
				if max == 0 || !errors.Is(err, ErrMessageTooLarge) {
					t.Fatalf("mode %d: unexpected error %v", mode, err)
				}
				continue
			}
			switch mode {
			case frameNUL:
				if got != string(data) {
					t.Fatalf("nul framing changed bytes: %q → %q", data, got)
				}
			case frameNULLine:
				if got != strings.ReplaceAll(string(data), "\x00", "\n") {
					t.Fatalf("nul→line: %q → %q", data, got)
				}
			case frameLineNUL:
				want := strings.ReplaceAll(string(data), "\r\n", "\n")
				if strings.ReplaceAll(got, "\x00", "\n") != strings.ReplaceAll(want, "\x00", "\n") ||
					int64(strings.Count(want, "\n")) != fr.msgs {
					t.Fatalf("line→nul: %q → %q (%d msgs)", data, got, fr.msgs)
				}
			}
		}
	})
}

// BenchmarkXMLFraming frames 64-byte messages through 32 KiB reads: the
// steady state must not allocate.
func BenchmarkXMLFraming(b *testing.B) {
	msg := bytes.Repeat([]byte("x"), 63)
	msg = append(msg, 0)
	chunk := bytes.Repeat(msg, xmlBufSize/len(msg))
	for _, m := range []struct {
		name string
		mode int
		data []byte
	}{
		{"nul", frameNUL, chunk},
		{"nul-to-line", frameNULLine, chunk},
		{"line-to-nul", frameLineNUL, bytes.ReplaceAll(chunk, []byte{0}, []byte("\r\n"))[:len(chunk)]},
	} {
		b.Run(m.name, func(b *testing.B) {
			f := newFramer(m.mode, 1<<20)
			buf := make([]byte, len(m.data)+1)
			b.SetBytes(int64(len(m.data)))
			b.ReportAllocs()
			for b.Loop() {
				copy(buf[1:], m.data)
				if _, _, err := f.frame(buf, 1, len(m.data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// xmlConfig is a listener with protocol xml in front of backend addr.
func xmlConfig(addr, framing string, max int64) *Config {
	cfg := testConfig()
	cfg.Backends = []*BackendConfig{{Name: "xml", Address: []string{addr}, ConnectTimeout: time.Second, Framing: framing}}
	l := testListener("xml", "games", "xml")
	l.Protocol = "xml"
	l.MaxMessage = max
	cfg.Listeners = []*ListenerConfig{l}
	return cfg
}

func TestXMLRelayEndToEnd(t *testing.T) {
	backend := startBackend(t, echoHandler)
	gw, logs, stop := startGateway(t, xmlConfig(backend, "nul", 1024))
	c := dial(t, gw.Addr("xml"))
	msgs := "<hello/>\x00<a b=\"1\">x</a>\x00"
	// Split the first message across writes: framing must not care.
	c.Write([]byte(msgs[:3]))
	time.Sleep(20 * time.Millisecond)
	c.Write([]byte(msgs[3:]))
	got := make([]byte, len(msgs))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msgs {
		t.Fatalf("echo: %q, %v", got, err)
	}
	c.CloseWrite()
	if rest, _ := io.ReadAll(c); len(rest) != 0 {
		t.Errorf("extra bytes %q", rest)
	}
	stop()
	log := logs.String()
	if !strings.Contains(log, `"protocol":"xml","msgs_up":2,"msgs_down":2`) {
		t.Errorf("summary lacks message counts:\n%s", log)
	}
}

func TestXMLRelayMaxMessageClosesOnlyThatConnection(t *testing.T) {
	got := make(chan string, 4)
	backend := startBackend(t, func(c *net.TCPConn) {
		b, _ := io.ReadAll(c)
		got <- string(b)
		c.Close()
	})
	gw, logs, stop := startGateway(t, xmlConfig(backend, "nul", 16))
	good := dial(t, gw.Addr("xml"))
	good.Write([]byte("<still/>\x00"))
	bad := dial(t, gw.Addr("xml"))
	bad.Write([]byte("<ok/>\x00<" + strings.Repeat("x", 100) + "/>\x00"))
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(bad); isTimeout(err) {
		t.Fatalf("oversized connection not closed: %v", err)
	}
	select {
	case b := <-got:
		if b != "<ok/>\x00" {
			t.Errorf("backend of the oversized connection got %q, want only the first message", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("backend connection not closed")
	}
	good.CloseWrite()
	select {
	case b := <-got:
		if b != "<still/>\x00" {
			t.Errorf("other connection's backend got %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("other connection affected")
	}
	stop()
	if !strings.Contains(logs.String(), "client message over max_message") {
		t.Errorf("no logged reason:\n%s", logs.String())
	}
}

// lineBackend is a readLine() server like Adobe's SimpleServer: it answers
// each line with "echo: LINE\r\n".
func lineBackend(c *net.TCPConn) {
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if _, err := c.Write([]byte("echo: " + sc.Text() + "\r\n")); err != nil {
			return
		}
	}
	c.CloseWrite()
}

func TestXMLRelayLineFraming(t *testing.T) {
	backend := startBackend(t, lineBackend)
	gw, _, _ := startGateway(t, xmlConfig(backend, "line", 1024))
	c := dial(t, gw.Addr("xml"))
	c.Write([]byte("<a/>\x00<b"))
	time.Sleep(20 * time.Millisecond)
	c.Write([]byte("/>\x00"))
	want := "echo: <a/>\x00echo: <b/>\x00"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}

// TestXMLRelayIdleHoldsNoBuffer: an idle xml connection parks in the poller.
func TestXMLRelayIdleTimeout(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := xmlConfig(backend, "nul", 1024)
	cfg.Listeners[0].IdleTimeout = 300 * time.Millisecond
	gw, logs, stop := startGateway(t, cfg)
	c := dial(t, gw.Addr("xml"))
	c.Write([]byte("<a/>\x00"))
	start := time.Now()
	got, _ := io.ReadAll(c)
	if string(got) != "<a/>\x00" || time.Since(start) < 250*time.Millisecond || time.Since(start) > 3*time.Second {
		t.Errorf("got %q after %v", got, time.Since(start))
	}
	stop()
	if !strings.Contains(logs.String(), `"reason":"idle timeout"`) {
		t.Errorf("no idle reason:\n%s", logs.String())
	}
}
