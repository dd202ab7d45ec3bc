package wire

// Kind is what the first bytes of a connection turned out to be.
type Kind uint8

// Kinds the sniffer tells apart.
const (
	KindUnknown Kind = iota // not decided yet: more bytes needed
	KindPolicy              // a complete socket policy request
	KindTLS                 // a TLS handshake record (ClientHello)
	KindHTTP                // an HTTP/1.x request line
	KindData                // anything else: relayed to the backend
	KindSilent              // no byte within sniff_timeout (server speaks first)
	KindRaw                 // not sniffed: a transparent binary listener relays every byte
)

// NumKinds is the number of Kind values: every Kind below it has a name.
const NumKinds = int(KindRaw) + 1

var kindNames = [NumKinds]string{"unknown", "policy", "tls", "http", "data", "silent", "raw"}

// String returns the kind's name as logs and metrics show it.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// The two socket policy requests, NUL included. Very old players sent the
// second form.
const (
	PolicyRequest      = "<policy-file-request/>\x00"
	CrossDomainRequest = "<cross-domain-request/>\x00"
)

// httpMethods are the request-line starts treated as HTTP. Only methods a
// browser or curl sends to a socket gateway; anything else is data.
var httpMethods = [...]string{"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH "}

// MaxSniff bounds how many bytes Sniff may ask for. Decisions are made on far
// fewer; the bound only keeps a hostile prefix from growing the buffer.
const MaxSniff = 24

// Sniff classifies a connection from the bytes seen so far. It returns
// KindUnknown while prefix is too short to decide, and never looks past the
// bytes it needs: the caller relays every peeked byte unchanged. Sniff is a
// pure function and allocates nothing; the caller owns buffers and deadlines.
// It decides every prefix of MaxSniff bytes.
func Sniff(prefix []byte) Kind {
	if len(prefix) == 0 {
		return KindUnknown
	}
	switch prefix[0] {
	case '<':
		return sniffPolicy(prefix)
	case 0x16: // TLS handshake record: 0x16 0x03 0x00..0x04
		if len(prefix) < 3 {
			if len(prefix) == 2 && prefix[1] != 0x03 {
				return KindData
			}
			return KindUnknown
		}
		if prefix[1] == 0x03 && prefix[2] <= 0x04 {
			return KindTLS
		}
		return KindData
	}
	if 'A' <= prefix[0] && prefix[0] <= 'Z' {
		return sniffHTTP(prefix)
	}
	return KindData
}

func sniffPolicy(prefix []byte) Kind {
	for _, req := range [...]string{PolicyRequest, CrossDomainRequest} {
		if len(prefix) >= len(req) {
			if string(prefix[:len(req)]) == req {
				return KindPolicy
			}
			continue
		}
		if string(prefix) == req[:len(prefix)] {
			return KindUnknown
		}
	}
	return KindData
}

func sniffHTTP(prefix []byte) Kind {
	undecided := false
	for _, m := range httpMethods {
		if len(prefix) >= len(m) {
			if string(prefix[:len(m)]) == m {
				return KindHTTP
			}
			continue
		}
		if string(prefix) == m[:len(prefix)] {
			undecided = true
		}
	}
	if undecided {
		return KindUnknown
	}
	return KindData
}
