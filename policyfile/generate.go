package policyfile

import (
	"bytes"
	"encoding/xml"
	"strconv"
)

const header = `<?xml version="1.0"?>` + "\n" +
	`<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd">` + "\n"

// Generate renders p as a policy XML document. The output is deterministic:
// the same Policy always renders to the same bytes, rules in their given order.
func (p *Policy) Generate() []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("<cross-domain-policy>\n")
	if p.SiteControl != SiteControlUnset {
		b.WriteString(`  <site-control permitted-cross-domain-policies="`)
		attr(&b, p.SiteControl)
		b.WriteString("\"/>\n")
	}
	for _, a := range p.Allow {
		b.WriteString("  ")
		writeAllow(&b, a)
		b.WriteString("\n")
	}
	for _, id := range p.Identities {
		b.WriteString("  <allow-access-from-identity>\n    <signatory>\n      <certificate")
		if id.Fingerprint != "" {
			b.WriteString(` fingerprint="`)
			attr(&b, id.Fingerprint)
			b.WriteString(`"`)
		}
		if id.FingerprintAlgorithm != "" {
			b.WriteString(` fingerprint-algorithm="`)
			attr(&b, id.FingerprintAlgorithm)
			b.WriteString(`"`)
		}
		b.WriteString("/>\n    </signatory>\n  </allow-access-from-identity>\n")
	}
	for _, h := range p.Headers {
		b.WriteString(`  <allow-http-request-headers-from domain="`)
		attr(&b, h.Domain)
		b.WriteString(`" headers="`)
		attr(&b, h.Headers)
		b.WriteString(`"`)
		if h.Secure != nil {
			b.WriteString(` secure="` + strconv.FormatBool(*h.Secure) + `"`)
		}
		b.WriteString("/>\n")
	}
	b.WriteString("</cross-domain-policy>\n")
	return b.Bytes()
}

// SocketAnswer returns the bytes a socket policy server writes: the policy
// XML followed by one NUL byte. Render it once and reuse it.
func (p *Policy) SocketAnswer() []byte {
	return append(p.Generate(), 0)
}

// writeAllow renders one allow-access-from element.
func writeAllow(b *bytes.Buffer, a Allow) {
	b.WriteString(`<allow-access-from domain="`)
	attr(b, a.Domain)
	b.WriteString(`"`)
	if a.ToPorts != "" {
		b.WriteString(` to-ports="`)
		attr(b, a.ToPorts)
		b.WriteString(`"`)
	}
	if a.Secure != nil {
		b.WriteString(` secure="` + strconv.FormatBool(*a.Secure) + `"`)
	}
	b.WriteString("/>")
}

// String renders the rule as its allow-access-from element.
func (a Allow) String() string {
	var b bytes.Buffer
	writeAllow(&b, a)
	return b.String()
}

func attr(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s))
}
