package config

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Error carries the diagnostics of an invalid config.
type Error struct {
	Diags hcl.Diagnostics
	Files map[string]*hcl.File

	filename string // the config file, for diagnostics without a subject
}

// Error formats every error diagnostic (warnings are left out), in source
// order, each as
//
//	FILE:LINE:COL: SUMMARY: DETAIL
//	   12 |   idle_timeout  = "5 minutes"
//	      |                   ^
//
// A diagnostic without a position is "FILE: SUMMARY: DETAIL".
func (e *Error) Error() string {
	var parts []string
	for _, d := range sortDiags(e.Diags) {
		if d.Severity == hcl.DiagError {
			parts = append(parts, formatDiag(d, e.Files, e.configFile()))
		}
	}
	if len(parts) == 0 {
		return e.configFile() + ": invalid config"
	}
	return strings.Join(parts, "\n")
}

func (e *Error) configFile() string {
	if e.filename != "" {
		return e.filename
	}
	if len(e.Files) == 1 {
		for name := range e.Files {
			return name
		}
	}
	return "config"
}

// sortDiags returns diags ordered: those without a position first, then
// by file (the order each file first appears) and position.
func sortDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	out := make(hcl.Diagnostics, 0, len(diags))
	fileOrder := map[string]int{}
	for _, d := range diags {
		if d == nil {
			continue
		}
		out = append(out, d)
		if d.Subject != nil {
			if _, ok := fileOrder[d.Subject.Filename]; !ok {
				fileOrder[d.Subject.Filename] = len(fileOrder)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Subject, out[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return fileOrder[a.Filename] < fileOrder[b.Filename]
		case a.Start.Line != b.Start.Line:
			return a.Start.Line < b.Start.Line
		default:
			return a.Start.Column < b.Start.Column
		}
	})
	return out
}

// formatDiag formats one diagnostic: the message line, then (when the
// subject's file is known) the source line and a caret under the subject's
// start. Warnings carry "warning: " after the position.
func formatDiag(d *hcl.Diagnostic, files map[string]*hcl.File, configFile string) string {
	msg := oneLine(d.Summary)
	if detail := oneLine(d.Detail); detail != "" {
		msg += ": " + detail
	}
	if d.Severity == hcl.DiagWarning {
		msg = "warning: " + msg
	}
	if d.Subject == nil {
		return configFile + ": " + msg
	}
	s := d.Subject
	name := s.Filename
	if name == "" {
		name = configFile
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: %s", name, s.Start.Line, s.Start.Column, msg)
	f := files[s.Filename]
	if f == nil {
		return b.String()
	}
	line, ok := sourceLine(f.Bytes, s.Start.Line)
	if !ok {
		return b.String()
	}
	// The caret goes under the subject's start: the byte offset when it lies
	// on this line, else the column counted in characters.
	var prefix []byte
	if lineStart := lineOffset(f.Bytes, s.Start.Line); s.Start.Byte >= lineStart && s.Start.Byte-lineStart <= len(line) && s.Start.Byte > 0 {
		prefix = line[:s.Start.Byte-lineStart]
	} else {
		prefix = line
		for i, n := 0, 0; i < len(line); n++ {
			if n == s.Start.Column-1 {
				prefix = line[:i]
				break
			}
			_, size := utf8.DecodeRune(line[i:])
			i += size
		}
	}
	pad := []rune{}
	for _, r := range string(prefix) {
		if r == '\t' {
			pad = append(pad, '\t')
		} else {
			pad = append(pad, ' ')
		}
	}
	fmt.Fprintf(&b, "\n%5d | %s\n%5s | %s^", s.Start.Line, strings.ToValidUTF8(string(line), "\uFFFD"), "", string(pad))
	return b.String()
}

// sourceLine returns line n (1-based) of src without its line ending.
func sourceLine(src []byte, n int) ([]byte, bool) {
	if n < 1 {
		return nil, false
	}
	start := lineOffset(src, n)
	if start < 0 {
		return nil, false
	}
	line := src[start:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return bytes.TrimSuffix(line, []byte("\r")), true
}

// lineOffset is the byte offset where line n (1-based) starts, or -1.
func lineOffset(src []byte, n int) int {
	off := 0
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(src[off:], '\n')
		if j < 0 {
			return -1
		}
		off += j + 1
	}
	return off
}

var newlines = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.TrimSpace(newlines.Replace(s))
}
