package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html/template"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/cloudtest/cloudtest/internal/result"
)

//go:embed report.html.tmpl
var htmlTemplate string

// kindSections render what a suite kind measured beyond pass or fail (its
// result Data). Kinds without a renderer show their data as JSON. Later
// suite kinds add their section here.
var kindSections = map[string]func(s *Suite) template.HTML{}

// kindParts put together the Data of a suite that never finished from the
// LevelPart records it wrote as it ran (a kind that writes parts adds its
// function here).
var kindParts = map[string]func(s *Suite, parts []json.RawMessage){}

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"lower":      func(s any) string { return strings.ToLower(toString(s)) },
	"join":       func(s []string) string { return strings.Join(s, ", ") },
	"inc":        func(i int) int { return i + 1 },
	"keptPassed": func() int { return KeptPassedCases },
	"anchor":     anchor,
	"joinOr":     func(s []string) string { return strings.Join(s, " or ") },
	"seconds":    seconds,
	"exchange":   exchangeText,
	"sorted":     sortedKeys,
	"failing":    func(st result.Status) bool { return st == result.Failed || st == result.Errored },
	"section": func(s *Suite) template.HTML {
		if f, ok := kindSections[s.Kind]; ok {
			return f(s)
		}
		return ""
	},
	"hasSection": func(s *Suite) bool { _, ok := kindSections[s.Kind]; return ok },
	"dataDriven": dataDriven,
	"pretty": func(raw json.RawMessage) string {
		var buf bytes.Buffer
		if json.Indent(&buf, raw, "", "  ") != nil {
			return string(raw)
		}
		return buf.String()
	},
	"stepName": func(s *Suite, c *Case, r result.Result) string {
		if r.Phase == "setup" || r.Phase == "teardown" {
			return r.Phase + " › " + r.Step
		}
		return r.Step
	},
}).Parse(htmlTemplate))

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case Verdict:
		return string(x)
	case result.Status:
		return string(x)
	}
	return ""
}

// WriteHTML writes one self-contained page: the verdict first, then the
// suites. Every value from the target or the configuration goes through
// html/template and is escaped.
//
// html/template leaves control characters as they are, and ESC, BEL or a
// NUL from the target make the page invalid (and a terminal that shows it
// obey them): the page is made printable as a whole (result.Printable),
// which changes nothing that cloudtest itself writes.
func (m *Model) WriteHTML(w io.Writer) error {
	pw := &printableStream{w: w}
	if err := tmpl.Execute(pw, m); err != nil {
		return err
	}
	return pw.flush()
}

// printableStream writes result.Printable of what it is given, as it
// comes; a rune (or a CR) cut at the end of one write waits for the next.
type printableStream struct {
	w    io.Writer
	rest []byte
}

func (p *printableStream) Write(b []byte) (int, error) {
	buf := append(p.rest, b...)
	cut := len(buf)
	for i := len(buf) - 1; i >= 0 && i >= len(buf)-utf8.UTFMax; i-- {
		if utf8.RuneStart(buf[i]) {
			if !utf8.FullRune(buf[i:]) {
				cut = i
			}
			break
		}
	}
	if cut > 0 && buf[cut-1] == '\r' {
		cut--
	}
	if _, err := io.WriteString(p.w, result.Printable(string(buf[:cut]))); err != nil {
		return 0, err
	}
	p.rest = append(p.rest[:0:0], buf[cut:]...)
	return len(b), nil
}

func (p *printableStream) flush() error {
	_, err := io.WriteString(p.w, result.Printable(string(p.rest)))
	p.rest = nil
	return err
}

// anchor makes a fragment identifier from a name: letters and digits kept,
// every other run of characters one dash, so that links and ids agree.
func anchor(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127 {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return b.String()
}

// dataDriven reports whether a suite's cases come from for_each (two or
// more cases named NAME[KEY]): the report shows them as a table first, one
// row a case, as a status-code matrix reads.
func dataDriven(s *Suite) bool {
	n := 0
	for _, c := range s.Cases {
		if strings.HasSuffix(c.Name, "]") && strings.Contains(c.Name, "[") {
			n++
		}
	}
	return n >= 2
}
