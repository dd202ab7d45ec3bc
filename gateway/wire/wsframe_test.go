package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestParseFrameHeader(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	tests := []struct {
		name string
		hex  string
		want FrameHeader
		n    int
		err  error // nil, ErrFrameShort or ErrFrameHeader
	}{
		// RFC 6455 §5.7's examples.
		{"unmasked text Hello", "810548656c6c6f", FrameHeader{Fin: true, Opcode: OpText, Length: 5}, 2, nil},
		{"masked text Hello", "818537fa213d7f9f4d5158", FrameHeader{Fin: true, Opcode: OpText, Masked: true, Key: key, Length: 5}, 6, nil},
		{"first fragment", "01034865", FrameHeader{Opcode: OpText, Length: 3}, 2, nil},
		{"last fragment", "80026c6f", FrameHeader{Fin: true, Opcode: OpContinuation, Length: 2}, 2, nil},
		{"unmasked ping", "890548656c6c6f", FrameHeader{Fin: true, Opcode: OpPing, Length: 5}, 2, nil},
		{"256 bytes binary", "827e0100", FrameHeader{Fin: true, Opcode: OpBinary, Length: 256}, 4, nil},
		{"64 KiB binary", "827f0000000000010000", FrameHeader{Fin: true, Opcode: OpBinary, Length: 65536}, 10, nil},
		{"masked 64-bit", "82ff000000000001000037fa213d", FrameHeader{Fin: true, Opcode: OpBinary, Masked: true, Key: key, Length: 65536}, 14, nil},
		{"rsv1 kept", "c100", FrameHeader{Fin: true, RSV: 4, Opcode: OpText}, 2, nil},
		{"close empty", "8800", FrameHeader{Fin: true, Opcode: OpClose}, 2, nil},
		{"empty", "", FrameHeader{}, 0, ErrFrameShort},
		{"one byte", "81", FrameHeader{}, 0, ErrFrameShort},
		{"16-bit length cut", "827e01", FrameHeader{}, 0, ErrFrameShort},
		{"64-bit length cut", "827f00000000000100", FrameHeader{}, 0, ErrFrameShort},
		{"key cut", "818537fa21", FrameHeader{}, 0, ErrFrameShort},
		{"reserved opcode", "8300", FrameHeader{}, 0, ErrFrameHeader},
		{"reserved control opcode", "8b00", FrameHeader{}, 0, ErrFrameHeader},
		{"fragmented ping", "0900", FrameHeader{}, 0, ErrFrameHeader},
		{"long ping", "897e0100", FrameHeader{}, 0, ErrFrameHeader},
		{"16-bit not shortest", "827e007d", FrameHeader{}, 0, ErrFrameHeader},
		{"64-bit not shortest", "827f000000000000ffff", FrameHeader{}, 0, ErrFrameHeader},
		{"64-bit top bit", "827f8000000000000000", FrameHeader{}, 0, ErrFrameHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := hex.DecodeString(tt.hex)
			if err != nil {
				t.Fatal(err)
			}
			h, n, err := ParseFrameHeader(b)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || n != 0 {
					t.Fatalf("n=%d err=%v, want %v", n, err, tt.err)
				}
				return
			}
			if err != nil || n != tt.n || h != tt.want {
				t.Fatalf("got %+v n=%d err=%v, want %+v n=%d", h, n, err, tt.want, tt.n)
			}
			if h.Len() != n {
				t.Fatalf("Len() = %d, parsed %d", h.Len(), n)
			}
			if got := AppendFrameHeader(nil, h); !bytes.Equal(got, b[:n]) {
				t.Fatalf("re-encoded %x, want %x", got, b[:n])
			}
		})
	}
}

func TestUnmask(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	masked, _ := hex.DecodeString("7f9f4d5158")
	p := append([]byte(nil), masked...)
	if Unmask(p, key, 0) != 5 || string(p) != "Hello" {
		t.Fatalf("unmasked %q", p)
	}
	// Any split into chunks gives the same result as one call, across the
	// 8-byte fast path and the byte tail.
	plain := bytes.Repeat([]byte("flashgate websocket payload "), 7)
	whole := append([]byte(nil), plain...)
	Unmask(whole, key, 0)
	for split := 1; split < 40; split++ {
		got := append([]byte(nil), plain...)
		pos := 0
		for i := 0; i < len(got); i += split {
			pos = Unmask(got[i:min(i+split, len(got))], key, pos)
		}
		if pos != len(got) || !bytes.Equal(got, whole) {
			t.Fatalf("split %d: differs", split)
		}
		Unmask(got, key, 0)
		if !bytes.Equal(got, plain) {
			t.Fatalf("split %d: masking twice is not the identity", split)
		}
	}
	for i := range whole {
		if whole[i] != plain[i]^key[i%4] {
			t.Fatalf("byte %d: %#x, want %#x", i, whole[i], plain[i]^key[i%4])
		}
	}
}

func TestFrameHeaderAllocatesNothing(t *testing.T) {
	var buf [MaxFrameHeaderLen]byte
	h := FrameHeader{Fin: true, Opcode: OpBinary, Masked: true, Key: [4]byte{1, 2, 3, 4}, Length: 1 << 20}
	p := make([]byte, 100)
	allocs := testing.AllocsPerRun(100, func() {
		b := AppendFrameHeader(buf[:0], h)
		_, _, _ = ParseFrameHeader(b)
		_ = Unmask(p, h.Key, 3)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

// FuzzFrameHeader: ParseFrameHeader never panics and never claims bytes it
// was not given; a header it accepts re-encodes to exactly its bytes (the
// encoding is canonical); a header that is short stays short or becomes an
// error only by more bytes, never by fewer.
func FuzzFrameHeader(f *testing.F) {
	for _, s := range []string{"810548656c6c6f", "818537fa213d7f9f4d5158", "827e0100", "82ff000000000001000037fa213d", "897e0100", "827f8000000000000000"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseFrameHeader(b)
		if err != nil {
			if n != 0 || (!errors.Is(err, ErrFrameShort) && !errors.Is(err, ErrFrameHeader)) {
				t.Fatalf("%x: n=%d err=%v", b, n, err)
			}
			if errors.Is(err, ErrFrameShort) && len(b) >= MaxFrameHeaderLen {
				t.Fatalf("%x: short at %d bytes", b, len(b))
			}
			return
		}
		if n < 2 || n > len(b) || n > MaxFrameHeaderLen || n != h.Len() {
			t.Fatalf("%x: n=%d Len=%d", b, n, h.Len())
		}
		if got := AppendFrameHeader(nil, h); !bytes.Equal(got, b[:n]) {
			t.Fatalf("%x: re-encoded %x", b[:n], got)
		}
		for i := 0; i < n; i++ {
			if _, _, err := ParseFrameHeader(b[:i]); !errors.Is(err, ErrFrameShort) {
				t.Fatalf("%x: prefix of %d bytes: %v", b[:n], i, err)
			}
		}
	})
}

// FuzzFrameHeaderRoundTrip: every valid header AppendFrameHeader writes
// parses back to itself, with the payload starting right after it.
func FuzzFrameHeaderRoundTrip(f *testing.F) {
	f.Add(true, uint8(0), uint8(OpBinary), true, uint32(0x37fa213d), uint64(65536))
	f.Add(false, uint8(4), uint8(OpText), false, uint32(0), uint64(126))
	f.Add(true, uint8(0), uint8(OpPing), true, uint32(1), uint64(125))
	f.Fuzz(func(t *testing.T, fin bool, rsv, op uint8, masked bool, key uint32, length uint64) {
		h := FrameHeader{Fin: fin, RSV: rsv & 7, Opcode: Opcode(op & 0xF), Masked: masked, Length: length >> 1}
		if masked {
			h.Key = [4]byte{byte(key >> 24), byte(key >> 16), byte(key >> 8), byte(key)}
		}
		b := AppendFrameHeader([]byte("x"), h)[1:]
		got, n, err := ParseFrameHeader(append(b, "payload"...))
		switch op := h.Opcode; {
		case op > OpBinary && op < OpClose || op > OpPong,
			op.IsControl() && (!fin || h.Length > MaxControlPayload):
			if !errors.Is(err, ErrFrameHeader) {
				t.Fatalf("invalid %+v encoded as %x parsed: %+v, %v", h, b, got, err)
			}
			return
		}
		if err != nil || n != len(b) || got != h {
			t.Fatalf("%+v encoded as %x parses to %+v n=%d err=%v", h, b, got, n, err)
		}
	})
}
