package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// runFramer feeds chunks through a framer as the relay does (one spare byte
// in front) and returns the concatenated output.
func runFramer(t testing.TB, f *Framer, chunks ...string) (string, error) {
	var out []byte
	for _, c := range chunks {
		buf := make([]byte, len(c)+1)
		copy(buf[1:], c)
		start, end, err := f.Frame(buf, 1, len(c))
		out = append(out, buf[start:end]...)
		if err != nil {
			return string(out), err
		}
	}
	out = append(out, f.Flush()...)
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
			f := NewFramer(FrameNUL, 64)
			got, err := runFramer(t, f, tt.chunks...)
			if err != nil || got != tt.want || f.Msgs() != tt.msgs {
				t.Errorf("got %q, %d msgs, %v; want %q, %d msgs", got, f.Msgs(), err, tt.want, tt.msgs)
			}
		})
	}
}

func TestFramerMaxMessage(t *testing.T) {
	tests := []struct {
		name   string
		mode   FrameMode
		chunks []string
		want   string // delivered before the error
	}{
		{"nul exact fits", FrameNUL, []string{"12345\x00"}, ""},
		{"nul over in one read", FrameNUL, []string{"ok\x00123456\x00"}, "ok\x00"},
		{"nul over across reads", FrameNUL, []string{"ok\x00123", "456"}, "ok\x00123"},
		{"nul over in one read after partial", FrameNUL, []string{"ok\x0012", "3456"}, "ok\x0012"},
		{"line over", FrameLineNUL, []string{"ok\n123456\n"}, "ok\x00"},
		{"line over, CRLF not counted", FrameLineNUL, []string{"12345\r\n123456\r\n"}, "12345\x00"},
		{"line over across reads", FrameLineNUL, []string{"ab\n1234", "56"}, "ab\x001234"},
		{"nul to line over", FrameNULLine, []string{"a\x00123456"}, "a\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFramer(tt.mode, 5)
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
		mode   FrameMode
		chunks []string
		want   string
		msgs   int64
	}{
		{"nul to line", FrameNULLine, []string{"<a/>\x00<b/>\x00"}, "<a/>\n<b/>\n", 2},
		{"nul to line split", FrameNULLine, []string{"<a/", ">\x00<b", "/>\x00"}, "<a/>\n<b/>\n", 2},
		{"lf", FrameLineNUL, []string{"hello\nworld\n"}, "hello\x00world\x00", 2},
		{"crlf", FrameLineNUL, []string{"hello\r\nworld\r\n"}, "hello\x00world\x00", 2},
		{"crlf split between cr and lf", FrameLineNUL, []string{"hello\r", "\nworld\r", "\n"}, "hello\x00world\x00", 2},
		{"lone cr at chunk end is data", FrameLineNUL, []string{"a\r", "b\n"}, "a\rb\x00", 1},
		{"lone cr inside is data", FrameLineNUL, []string{"a\rb\n"}, "a\rb\x00", 1},
		{"cr at eof kept", FrameLineNUL, []string{"a\r"}, "a\r", 0},
		{"partial line", FrameLineNUL, []string{"abc\nde", "f\n"}, "abc\x00def\x00", 2},
		{"empty lines", FrameLineNUL, []string{"\n\r\n"}, "\x00\x00", 2},
		{"split into single bytes", FrameLineNUL, []string{"a", "\r", "\n", "\r", "\r", "\n"}, "a\x00\r\x00", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFramer(tt.mode, 64)
			got, err := runFramer(t, f, tt.chunks...)
			if err != nil || got != tt.want || f.Msgs() != tt.msgs {
				t.Errorf("got %q, %d msgs, %v; want %q, %d msgs", got, f.Msgs(), err, tt.want, tt.msgs)
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
		for _, mode := range []FrameMode{FrameNUL, FrameNULLine, FrameLineNUL} {
			fr := NewFramer(mode, max)
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
			case FrameNUL:
				if got != string(data) {
					t.Fatalf("nul framing changed bytes: %q → %q", data, got)
				}
			case FrameNULLine:
				if got != strings.ReplaceAll(string(data), "\x00", "\n") {
					t.Fatalf("nul→line: %q → %q", data, got)
				}
			case FrameLineNUL:
				want := strings.ReplaceAll(string(data), "\r\n", "\n")
				if strings.ReplaceAll(got, "\x00", "\n") != strings.ReplaceAll(want, "\x00", "\n") ||
					int64(strings.Count(want, "\n")) != fr.Msgs() {
					t.Fatalf("line→nul: %q → %q (%d msgs)", data, got, fr.Msgs())
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
	chunk := bytes.Repeat(msg, 32<<10/len(msg))
	for _, m := range []struct {
		name string
		mode FrameMode
		data []byte
	}{
		{"nul", FrameNUL, chunk},
		{"nul-to-line", FrameNULLine, chunk},
		{"line-to-nul", FrameLineNUL, bytes.ReplaceAll(chunk, []byte{0}, []byte("\r\n"))[:len(chunk)]},
	} {
		b.Run(m.name, func(b *testing.B) {
			f := NewFramer(m.mode, 1<<20)
			buf := make([]byte, len(m.data)+1)
			b.SetBytes(int64(len(m.data)))
			b.ReportAllocs()
			for b.Loop() {
				copy(buf[1:], m.data)
				if _, _, err := f.Frame(buf, 1, len(m.data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestXMLModes(t *testing.T) {
	if up, down := XMLModes("line"); up != FrameNULLine || down != FrameLineNUL {
		t.Fatalf("line: %d, %d", up, down)
	}
	if up, down := XMLModes("nul"); up != FrameNUL || down != FrameNUL {
		t.Fatalf("nul: %d, %d", up, down)
	}
}

func TestFramerAllocatesNothing(t *testing.T) {
	f := NewFramer(FrameLineNUL, 64)
	buf := make([]byte, 16)
	allocs := testing.AllocsPerRun(100, func() {
		n := copy(buf[1:], "ab\r\ncd\r")
		_, _, _ = f.Frame(buf, 1, n)
		_ = f.Flush()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}
