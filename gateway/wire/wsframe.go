package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The WebSocket frame header (RFC 6455 §5.2):
//
//	byte 0: FIN, RSV1-3, opcode (4 bits)
//	byte 1: MASK, payload length (7 bits: 0-125, or 126: a 16-bit length
//	        follows, or 127: a 64-bit length follows, its top bit 0)
//	then the extended length, then the 4-byte masking key when MASK is set.
//
// The payload follows the header; a masked payload is XORed with the key
// (Unmask). Lengths must be in their shortest form, control frames (close,
// ping, pong) unfragmented and at most 125 bytes, and the reserved opcodes
// unused; RSV bits are returned as they are, for the caller to refuse when
// no extension was negotiated.

// Opcode is a WebSocket frame's opcode.
type Opcode uint8

// The opcodes RFC 6455 defines.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports a control frame's opcode (close, ping, pong).
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// MaxFrameHeaderLen is the longest frame header: 2 bytes, a 64-bit length
// and a masking key.
const MaxFrameHeaderLen = 14

// MaxControlPayload is the largest payload of a control frame.
const MaxControlPayload = 125

// ErrFrameShort means the bytes so far are a valid start of a frame header.
var ErrFrameShort = errors.New("WebSocket frame header incomplete")

// ErrFrameHeader is returned for a malformed WebSocket frame header.
var ErrFrameHeader = errors.New("bad WebSocket frame header")

// FrameHeader is a decoded WebSocket frame header.
type FrameHeader struct {
	Fin    bool    // the last frame of a message
	RSV    uint8   // RSV1-3 as the low three bits (RSV1 = 4)
	Opcode Opcode  // the frame's opcode
	Masked bool    // the payload is masked with Key (client to server)
	Key    [4]byte // masking key, when Masked
	Length uint64  // payload length in bytes
}

// Len returns the length of h's encoding.
func (h FrameHeader) Len() int {
	n := 2
	switch {
	case h.Length > 0xFFFF:
		n += 8
	case h.Length > MaxControlPayload:
		n += 2
	}
	if h.Masked {
		n += 4
	}
	return n
}

func frameErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFrameHeader}, args...)...)
}

// ParseFrameHeader decodes the frame header at the start of b. It returns
// the header and its length n (the payload starts at b[n]), ErrFrameShort
// while b holds only a valid start of a header, or an error wrapping
// ErrFrameHeader. It never looks past the header and allocates nothing on
// success.
func ParseFrameHeader(b []byte) (h FrameHeader, n int, err error) {
	if len(b) < 2 {
		return FrameHeader{}, 0, ErrFrameShort
	}
	h.Fin = b[0]&0x80 != 0
	h.RSV = b[0] >> 4 & 0x7
	h.Opcode = Opcode(b[0] & 0xF)
	h.Masked = b[1]&0x80 != 0
	switch h.Opcode {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return FrameHeader{}, 0, frameErr("reserved opcode %#x", uint8(h.Opcode))
	}
	n = 2
	switch l := b[1] & 0x7F; l {
	case 126:
		if len(b) < n+2 {
			return FrameHeader{}, 0, ErrFrameShort
		}
		h.Length = uint64(binary.BigEndian.Uint16(b[n:]))
		n += 2
		if h.Length <= MaxControlPayload {
			return FrameHeader{}, 0, frameErr("16-bit length %d not in its shortest form", h.Length)
		}
	case 127:
		if len(b) < n+8 {
			return FrameHeader{}, 0, ErrFrameShort
		}
		h.Length = binary.BigEndian.Uint64(b[n:])
		n += 8
		if h.Length>>63 != 0 {
			return FrameHeader{}, 0, frameErr("64-bit length with its top bit set")
		}
		if h.Length <= 0xFFFF {
			return FrameHeader{}, 0, frameErr("64-bit length %d not in its shortest form", h.Length)
		}
	default:
		h.Length = uint64(l)
	}
	if h.Opcode.IsControl() {
		if !h.Fin {
			return FrameHeader{}, 0, frameErr("fragmented control frame (opcode %#x)", uint8(h.Opcode))
		}
		if h.Length > MaxControlPayload {
			return FrameHeader{}, 0, frameErr("control frame of %d bytes", h.Length)
		}
	}
	if h.Masked {
		if len(b) < n+4 {
			return FrameHeader{}, 0, ErrFrameShort
		}
		h.Key = [4]byte(b[n : n+4])
		n += 4
	}
	return h, n, nil
}

// AppendFrameHeader appends h's encoding to b, its length in the shortest
// form. The caller keeps h valid (a control frame final and at most
// MaxControlPayload bytes, Length below 2^63); ParseFrameHeader refuses what
// is not.
func AppendFrameHeader(b []byte, h FrameHeader) []byte {
	b0 := h.RSV&0x7<<4 | byte(h.Opcode&0xF)
	if h.Fin {
		b0 |= 0x80
	}
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	switch {
	case h.Length > 0xFFFF:
		b = append(b, b0, b1|127)
		b = binary.BigEndian.AppendUint64(b, h.Length)
	case h.Length > MaxControlPayload:
		b = append(b, b0, b1|126)
		b = binary.BigEndian.AppendUint16(b, uint16(h.Length))
	default:
		b = append(b, b0, b1|byte(h.Length))
	}
	if h.Masked {
		b = append(b, h.Key[:]...)
	}
	return b
}

// Unmask XORs p in place with key, p being the payload bytes from offset
// pos on (masking and unmasking are the same operation). It returns the
// offset after p, to pass with the payload's next chunk.
func Unmask(p []byte, key [4]byte, pos int) int {
	next := pos + len(p)
	k := [4]byte{key[pos&3], key[(pos+1)&3], key[(pos+2)&3], key[(pos+3)&3]}
	k32 := uint64(binary.LittleEndian.Uint32(k[:]))
	k64 := k32 | k32<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k64)
	}
	for ; i < len(p); i++ {
		p[i] ^= k[i&3]
	}
	return next
}
