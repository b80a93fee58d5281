package main

import (
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/cloudtest/cloudtest/internal/result"
)

// The escape sequences cloudtest itself writes: hcl's colours and
// underline on stderr, the live status line's "return and clear the line"
// on stdout. No other control character reaches the terminal.
var (
	stdoutSequences = []string{"\r\x1b[K"}
	stderrSequences = []string{"\x1b[31m", "\x1b[33m", "\x1b[0m", "\x1b[1;4m"}
)

// printableWriter is every byte cloudtest prints: a control character
// that is not one of its own sequences (a raw ESC, BEL or CR in a source
// line, a suite name, a message from the target) is written as a visible
// escape, so that nothing printed can drive the terminal. The texts are
// made printable where they are formatted too (result.Printable); this is
// the one place that holds for every message, hcl's snippets included.
type printableWriter struct {
	w     io.Writer
	allow []string
}

func newPrintable(w io.Writer, allow []string) io.Writer {
	if _, ok := w.(*printableWriter); ok {
		return w
	}
	return &printableWriter{w: w, allow: allow}
}

func (p *printableWriter) Write(b []byte) (int, error) {
	s := string(b)
	if !result.NeedsEscape(s) {
		return p.w.Write(b)
	}
	var out strings.Builder
	for len(s) > 0 {
		if a := p.allowedAt(s); a != "" {
			out.WriteString(a)
			s = s[len(a):]
			continue
		}
		_, n := utf8.DecodeRuneInString(s)
		out.WriteString(result.Printable(s[:n]))
		s = s[n:]
	}
	if _, err := io.WriteString(p.w, out.String()); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (p *printableWriter) allowedAt(s string) string {
	for _, a := range p.allow {
		if strings.HasPrefix(s, a) {
			return a
		}
	}
	return ""
}

// fileOf is the file under w, for the terminal checks.
func fileOf(w io.Writer) (*os.File, bool) {
	if p, ok := w.(*printableWriter); ok {
		w = p.w
	}
	f, ok := w.(*os.File)
	return f, ok
}
