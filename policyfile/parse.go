package policyfile

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// ErrTooLarge is wrapped by the ParseError for a document of MaxSize bytes or
// more.
var ErrTooLarge = errors.New("policy file too large")

// ParseError is a problem that makes the player reject or ignore a policy
// file, at a 1-based line and column of the document.
type ParseError struct {
	Line int
	Col  int
	Msg  string
	Err  error // a sentinel such as ErrTooLarge, or nil
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads a socket or URL policy file the way the player does, only
// stricter: it refuses documents of MaxSize bytes or more, anything that is
// not well-formed XML, a root other than cross-domain-policy, namespace-
// qualified elements (the player does not parse them), an internal DTD subset
// declaring entities or attribute defaults, unknown site-control values,
// malformed to-ports or secure values, rules without a domain and more than
// one site-control. Unknown elements and attributes are skipped (Lint warns
// about them). A DOCTYPE is accepted and never fetched; only the predefined
// XML entities and character references expand.
//
// Parse does not know whether the file is a socket or a URL policy; rules the
// player ignores in one kind (allow-access-from without to-ports in a socket
// policy, say) are kept and reported by Lint. Parse(p.Generate()) equals p for
// every p that Parse returned. The error is a *ParseError.
func Parse(data []byte) (*Policy, error) {
	w := newWalker(data, true)
	w.walk()
	for _, f := range w.findings {
		if f.Severity == Error {
			return nil, &ParseError{Line: f.Line, Col: f.Col, Msg: f.Msg, Err: f.err}
		}
	}
	return &w.p, nil
}

// pos is a 1-based position in the document.
type pos struct{ line, col int }

// clamp keeps positions 1-based: the decoder reports column 0 right after a
// newline.
func (p pos) clamp() pos {
	return pos{max(p.line, 1), max(p.col, 1)}
}

// walker reads a policy document once, building the Policy and recording
// findings; Parse stops at the first error, Lint collects them all.
type walker struct {
	data      []byte
	stopEarly bool
	d         *xml.Decoder
	findings  []Finding
	failed    bool // a structural error: stop walking

	p          Policy
	sitePos    pos
	siteSeen   bool
	allowPos   []pos
	headerPos  []pos
	incomplete map[pos]bool // elements already reported as missing an attribute
	identPos   []pos
	rootSeen   bool
	rootClosed bool
}

func newWalker(data []byte, stopEarly bool) *walker {
	return &walker{data: data, stopEarly: stopEarly}
}

func (w *walker) errorf(at pos, sentinel error, format string, args ...any) {
	at = at.clamp()
	w.findings = append(w.findings, Finding{Line: at.line, Col: at.col, Severity: Error,
		Msg: fmt.Sprintf(format, args...), err: sentinel})
}

func (w *walker) warnf(at pos, format string, args ...any) {
	at = at.clamp()
	w.findings = append(w.findings, Finding{Line: at.line, Col: at.col, Severity: Warning,
		Msg: fmt.Sprintf(format, args...)})
}

// stop reports whether walking should end: after a structural error, or after
// any error when parsing.
func (w *walker) stop() bool {
	if w.failed {
		return true
	}
	if !w.stopEarly {
		return false
	}
	for _, f := range w.findings {
		if f.Severity == Error {
			return true
		}
	}
	return false
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func (w *walker) walk() {
	data := w.data
	if len(data) >= MaxSize {
		w.errorf(pos{1, 1}, ErrTooLarge,
			"policy file is %d bytes: the player refuses files of %d bytes or more", len(data), MaxSize)
		if w.stopEarly {
			return
		}
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	w.d = xml.NewDecoder(bytes.NewReader(data))
	w.d.Strict = true
	w.d.CharsetReader = charsetReader

	type frame struct {
		name string
		at   pos
	}
	var stack []frame
	for !w.stop() {
		line, col := w.d.InputPos()
		at := pos{line, col}
		offset := w.d.InputOffset()
		tok, err := w.d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			w.syntaxError(err)
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !w.checkNamespace(t, at) {
				return
			}
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1].name
			}
			w.startElement(t, parent, at)
			stack = append(stack, frame{t.Name.Local, at})
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				w.rootClosed = true
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) == 0 {
				continue
			}
			switch {
			case len(stack) == 0 && !w.rootClosed:
				w.errorf(at, nil, "text before the cross-domain-policy element")
				w.failed = true
			case len(stack) == 0:
				w.errorf(at, nil, "text after the cross-domain-policy element")
				w.failed = true
			default:
				w.warnf(at, "text inside <%s> is ignored", stack[len(stack)-1].name)
			}
		case xml.Directive:
			w.directive(t, at, len(stack) > 0 || w.rootClosed)
		case xml.ProcInst:
			if t.Target == "xml" && offset > 0 {
				w.warnf(at, "the XML declaration is not at the very start of the file: strict XML parsers refuse this")
			}
		case xml.Comment:
			// The XML declaration, stylesheets, comments: nothing to the player.
		}
	}
	if w.stop() {
		return
	}
	if !w.rootSeen {
		line, col := w.d.InputPos()
		w.errorf(pos{line, col}, nil, "no cross-domain-policy element")
	}
}

func (w *walker) syntaxError(err error) {
	line, col := w.d.InputPos()
	msg := err.Error()
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		msg = se.Msg
		if se.Line != line {
			line, col = se.Line, 1
		}
	}
	w.errorf(pos{line, col}, nil, "not well-formed XML: %s", msg)
	w.failed = true
}

// directive accepts a DOCTYPE before the root element. An internal subset may
// not declare entities (no expansion, no billion laughs) or attribute
// defaults (they would change the document for a validating reader only).
func (w *walker) directive(d xml.Directive, at pos, late bool) {
	s := string(d)
	if !strings.HasPrefix(s, "DOCTYPE") {
		w.errorf(at, nil, "unexpected <!%s> declaration", firstWord(s))
		w.failed = true
		return
	}
	if late {
		w.errorf(at, nil, "DOCTYPE after the root element")
		w.failed = true
		return
	}
	if i := strings.IndexByte(s, '['); i >= 0 {
		subset := s[i:]
		switch {
		case strings.Contains(subset, "<!ENTITY"):
			w.errorf(at, nil, "DOCTYPE declares entities: refused (they would expand in the document)")
			w.failed = true
		case strings.Contains(subset, "<!ATTLIST"):
			w.errorf(at, nil, "DOCTYPE declares attribute defaults: refused")
			w.failed = true
		}
	}
	if f := strings.Fields(s); len(f) >= 2 && f[1] != "cross-domain-policy" {
		w.warnf(at, "DOCTYPE names %q, not cross-domain-policy", strings.TrimRight(f[1], "[>"))
	}
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}

// checkNamespace refuses namespace-qualified elements: Adobe's schemas have no
// target namespace and the player does not parse qualified policy files.
// Declaring other namespaces for attributes (xmlns:xsi with
// xsi:noNamespaceSchemaLocation, as in Adobe's own examples) is fine.
func (w *walker) checkNamespace(t xml.StartElement, at pos) bool {
	if t.Name.Space != "" {
		w.errorf(at, nil, "element <%s> is namespace-qualified (%s): the player does not parse namespace-qualified policy files",
			t.Name.Local, t.Name.Space)
		w.failed = true
		return false
	}
	return true
}

func (w *walker) startElement(t xml.StartElement, parent string, at pos) {
	name := t.Name.Local
	attrs, ok := w.attrs(t, at)
	if !ok {
		return
	}
	switch {
	case parent == "" && w.rootClosed:
		w.errorf(at, nil, "element <%s> after the cross-domain-policy element", name)
		w.failed = true
	case parent == "":
		if name != "cross-domain-policy" {
			w.errorf(at, nil, "root element is <%s>, not <cross-domain-policy>", name)
			w.failed = true
			return
		}
		w.rootSeen = true
		w.unknownAttrs(name, attrs, at)
	case parent == "cross-domain-policy":
		w.policyChild(name, attrs, at)
	case parent == "allow-access-from-identity" && name == "signatory":
		w.unknownAttrs(name, attrs, at)
	case parent == "signatory" && name == "certificate":
		id := Identity{
			Fingerprint:          attrs.take("fingerprint"),
			FingerprintAlgorithm: attrs.take("fingerprint-algorithm"),
		}
		w.unknownAttrs(name, attrs, at)
		w.p.Identities = append(w.p.Identities, id)
		w.identPos = append(w.identPos, at)
	default:
		w.warnf(at, "unknown element <%s> inside <%s> is ignored", name, parent)
	}
}

func (w *walker) policyChild(name string, attrs attrList, at pos) {
	switch name {
	case "site-control":
		v, ok := attrs.lookup("permitted-cross-domain-policies")
		attrs.take("permitted-cross-domain-policies")
		w.unknownAttrs(name, attrs, at)
		switch {
		case w.siteSeen:
			w.errorf(at, nil, "more than one <site-control> (first at line %d)", w.sitePos.line)
		case !ok:
			w.errorf(at, nil, "<site-control> without permitted-cross-domain-policies")
		case !validSiteControl(v):
			w.errorf(at, nil, "unknown permitted-cross-domain-policies value %q (want none, master-only, by-content-type, by-ftp-filename or all)", v)
		default:
			w.p.SiteControl = v
			w.siteSeen, w.sitePos = true, at
		}
	case "allow-access-from":
		var a Allow
		var ok bool
		if a.Domain, ok = attrs.lookup("domain"); !ok {
			w.errorf(at, nil, "<allow-access-from> without a domain")
			w.markIncomplete(at)
		}
		attrs.take("domain")
		if v, ok := attrs.lookup("to-ports"); ok {
			attrs.take("to-ports")
			if _, err := ParsePorts(v); err != nil {
				w.errorf(at, nil, "%v", err)
			}
			a.ToPorts = v
		}
		a.Secure = w.secureAttr(&attrs, at)
		w.unknownAttrs(name, attrs, at)
		w.p.Allow = append(w.p.Allow, a)
		w.allowPos = append(w.allowPos, at)
	case "allow-http-request-headers-from":
		var h AllowHeaders
		var ok bool
		if h.Domain, ok = attrs.lookup("domain"); !ok {
			w.errorf(at, nil, "<allow-http-request-headers-from> without a domain")
			w.markIncomplete(at)
		}
		attrs.take("domain")
		if h.Headers, ok = attrs.lookup("headers"); !ok {
			w.errorf(at, nil, "<allow-http-request-headers-from> without headers")
			w.markIncomplete(at)
		}
		attrs.take("headers")
		h.Secure = w.secureAttr(&attrs, at)
		w.unknownAttrs(name, attrs, at)
		w.p.Headers = append(w.p.Headers, h)
		w.headerPos = append(w.headerPos, at)
	case "allow-access-from-identity":
		w.unknownAttrs(name, attrs, at)
	default:
		w.warnf(at, "unknown element <%s> is ignored", name)
	}
}

func (w *walker) markIncomplete(at pos) {
	if w.incomplete == nil {
		w.incomplete = map[pos]bool{}
	}
	w.incomplete[at] = true
}

func (w *walker) secureAttr(attrs *attrList, at pos) *bool {
	v, ok := attrs.lookup("secure")
	if !ok {
		return nil
	}
	attrs.take("secure")
	switch v {
	case "true":
		return Bool(true)
	case "false":
		return Bool(false)
	}
	w.errorf(at, nil, "secure=%q: want \"true\" or \"false\"", v)
	return nil
}

func validSiteControl(v string) bool {
	switch v {
	case None, MasterOnly, ByContentType, ByFTPFilename, All:
		return true
	}
	return false
}

// attrList holds an element's unqualified attributes; take marks one used so
// that unknownAttrs can warn about the rest.
type attrList []xml.Attr

func (l attrList) lookup(name string) (string, bool) {
	for _, a := range l {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func (l *attrList) take(name string) string {
	for i, a := range *l {
		if a.Name.Local == name {
			*l = append((*l)[:i:i], (*l)[i+1:]...)
			return a.Value
		}
	}
	return ""
}

// attrs returns the unqualified attributes of t; it refuses duplicates and
// drops namespace declarations and namespaced attributes (xsi:...), which the
// player ignores.
func (w *walker) attrs(t xml.StartElement, at pos) (attrList, bool) {
	var out attrList
	for i, a := range t.Attr {
		for _, b := range t.Attr[:i] {
			if a.Name == b.Name {
				w.errorf(at, nil, "duplicate attribute %s on <%s>", a.Name.Local, t.Name.Local)
				w.failed = true
				return nil, false
			}
		}
		if a.Name.Space != "" || a.Name.Local == "xmlns" {
			continue
		}
		out = append(out, a)
	}
	return out, true
}

func (w *walker) unknownAttrs(elem string, rest attrList, at pos) {
	for _, a := range rest {
		w.warnf(at, "unknown attribute %s on <%s> is ignored", a.Name.Local, elem)
	}
}

// charsetReader accepts the single-byte encodings old policy files declare.
// UTF-8 needs no reader.
func charsetReader(label string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "us-ascii", "ascii":
		return input, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
		b, err := io.ReadAll(input)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(b))
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return nil, fmt.Errorf("unsupported encoding %q (use UTF-8)", label)
}
