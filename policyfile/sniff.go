package policyfile

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
)

// Sniff reports whether data is a cross-domain-policy document at all: XML
// whose first element is <cross-domain-policy>. It returns nil when it is
// (Lint then says what is wrong inside it, quoting the document), and
// otherwise an error that says what is wrong (too large, not XML, the line
// and column of the XML error, another root element) without quoting any
// byte of data: a path given as a policy file may point at a file that is
// not a policy at all, such as /etc/passwd or a secret, whose content must
// not end up in diagnostics or logs.
func Sniff(data []byte) error {
	if len(data) >= MaxSize {
		return fmt.Errorf("%d bytes or more: the player refuses policy files of %d bytes or more", MaxSize, MaxSize)
	}
	d := xml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, utf8BOM)))
	d.Strict = true
	d.CharsetReader = charsetReader
	for {
		line, col := d.InputPos()
		tok, err := d.Token()
		if err == io.EOF {
			return fmt.Errorf("not a cross-domain-policy document: no XML element")
		}
		if err != nil {
			if se, ok := err.(*xml.SyntaxError); ok && se.Line != line {
				line, col = se.Line, 1
			} else if ok {
				line, col = d.InputPos()
			}
			return fmt.Errorf("not XML: not well-formed at line %d, column %d", line, max(col, 1))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != "" || t.Name.Local != "cross-domain-policy" {
				return fmt.Errorf("not a cross-domain-policy document: the root element at line %d, column %d is not <cross-domain-policy>", line, max(col, 1))
			}
			return nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				// Point at the text, not at the spaces before it.
				for _, c := range t[:len(t)-len(bytes.TrimLeft(t, " \t\r\n"))] {
					if c == '\n' {
						line, col = line+1, 1
					} else {
						col++
					}
				}
				return fmt.Errorf("not XML: text at line %d, column %d, before any element", line, max(col, 1))
			}
		}
	}
}
