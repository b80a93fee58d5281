package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/cloudtest/cloudtest/internal/deploy"
	"github.com/cloudtest/cloudtest/internal/result"
)

// WriteJSON writes the model as indented JSON.
func (m *Model) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func seconds(ms float64) string { return fmt.Sprintf("%.3f", ms/1000) }

// WriteJUnit writes one testsuite per suite and one testcase per step.
// Failure texts carry the whole message, the location and the exchange, so
// that a CI test tab shows what was expected and what came back.
func (m *Model) WriteJUnit(w io.Writer) error {
	all := junitSuites{Name: clean(m.Run.Project), Time: seconds(float64(m.Duration().Milliseconds()))}
	if all.Name == "" {
		all.Name = "cloudtest"
	}
	for _, s := range m.Suites {
		js := junitSuiteOf(s)
		all.Tests += js.Tests
		all.Failures += js.Failures
		all.Errors += js.Errors
		all.Skipped += js.Skipped
		all.Suites = append(all.Suites, js)
	}
	if js, ok := m.junitAcceptance(); ok {
		all.Tests += js.Tests
		all.Failures += js.Failures
		all.Skipped += js.Skipped
		all.Suites = append([]junitSuite{js}, all.Suites...)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitSuiteOf is one suite as a testsuite: a testcase for each step.
func junitSuiteOf(s *Suite) junitSuite {
	js := junitSuite{Name: clean(s.Name), Time: seconds(s.DurationMS)}
	class := s.Kind + "." + s.Name
	add := func(jc junitCase, st result.Status) {
		js.Tests++
		switch st {
		case result.Failed:
			js.Failures++
		case result.Errored:
			js.Errors++
		case result.Skipped:
			js.Skipped++
		}
		js.Cases = append(js.Cases, jc)
	}
	for _, c := range s.Cases {
		for _, st := range c.Steps {
			name := st.Step
			if c.Name != s.Name {
				name = c.Name + " › " + st.Step
			}
			if st.Phase == "setup" || st.Phase == "teardown" {
				name = st.Phase + " › " + st.Step
			}
			jc := junitCase{Name: clean(name), Classname: clean(class), Time: seconds(st.DurationMS), File: st.Location}
			text := clean(problemText(st))
			switch st.Status {
			case result.Failed:
				jc.Failure = &junitProblem{Message: clean(firstLine(st.Message)), Text: text}
			case result.Errored:
				jc.Error = &junitProblem{Message: clean(firstLine(st.Message)), Text: text}
			case result.Skipped:
				jc.Skipped = &junitProblem{Message: clean(firstLine(st.Message))}
			}
			add(jc, st.Status)
		}
	}
	// A suite that failed without a failing step (a target that would not
	// start, a timeout) or that never ran still shows as one testcase.
	if s.Steps.Failed+s.Steps.Errored == 0 && s.Status != result.Passed {
		jc := junitCase{Name: clean(s.Name), Classname: clean(class), Time: seconds(s.DurationMS), File: s.Location}
		msg := s.Message
		if !s.Ran {
			msg = "the suite did not run"
		}
		switch s.Status {
		case result.Failed:
			jc.Failure = &junitProblem{Message: clean(firstLine(msg)), Text: clean(msg)}
		case result.Errored:
			jc.Error = &junitProblem{Message: clean(firstLine(msg)), Text: clean(msg)}
		default:
			jc.Skipped = &junitProblem{Message: clean(firstLine(msg))}
		}
		add(jc, s.Status)
	}
	return js
}

// junitAcceptance is the acceptance matrix as a testsuite: a testcase for
// each requirement, or one skipped testcase when it was not assessed; ok
// is false without a matrix.
func (m *Model) junitAcceptance() (junitSuite, bool) {
	a := m.Acceptance
	if a == nil {
		return junitSuite{}, false
	}
	if a.NotAssessed != "" {
		// One skipped case, so that a CI test tab says the matrix was not
		// assessed rather than nothing at all.
		return junitSuite{Name: "acceptance (" + a.Mode + " deployment)", Tests: 1, Skipped: 1, Cases: []junitCase{{
			Name: "acceptance matrix", Classname: "acceptance.matrix", Time: "0.000", Skipped: &junitProblem{Message: clean(a.NotAssessed)}}}}, true
	}
	js := junitSuite{Name: "acceptance (" + a.Mode + " deployment)"}
	for _, st := range a.Requirements {
		jc := junitCase{Name: clean(st.ID), Classname: "acceptance." + clean(st.Kind), Time: "0.000", File: st.Source}
		js.Tests++
		text := clean(st.Description + "\n" + st.Why)
		switch st.Outcome {
		case deploy.Failed:
			js.Failures++
			jc.Failure = &junitProblem{Message: clean(st.Why), Text: text}
		case deploy.NotMet:
			js.Failures++
			jc.Failure = &junitProblem{Message: "missing: " + clean(st.Why), Text: text}
		case deploy.WaivedOut:
			js.Skipped++
			jc.Skipped = &junitProblem{Message: clean(st.Why)}
		}
		js.Cases = append(js.Cases, jc)
	}
	return js, true
}

func problemText(r result.Result) string {
	var b strings.Builder
	b.WriteString(r.Message)
	if r.Location != "" {
		fmt.Fprintf(&b, "\n\nat %s", r.Location)
	}
	for _, c := range r.Checks {
		if c.Status != result.Passed && c.Message != "" && !strings.Contains(r.Message, c.Message) {
			fmt.Fprintf(&b, "\n\n%s (%s):\n%s", c.Name, c.Status, c.Message)
		}
	}
	if x := r.Exchange; x != nil {
		b.WriteString("\n\n")
		b.WriteString(exchangeText(x))
	}
	return b.String()
}

func exchangeText(x *result.Exchange) string {
	var b strings.Builder
	switch x.Protocol {
	case "http":
		fmt.Fprintf(&b, "> %s %s\n", x.Method, x.URL)
		for _, k := range sortedKeys(x.RequestHeaders) {
			fmt.Fprintf(&b, "> %s: %s\n", k, x.RequestHeaders[k])
		}
		if x.RequestBody != "" {
			fmt.Fprintf(&b, ">\n%s\n", x.RequestBody)
		}
		fmt.Fprintf(&b, "< %d\n", x.Status)
		for _, k := range sortedKeys(x.ResponseHeaders) {
			fmt.Fprintf(&b, "< %s: %s\n", k, x.ResponseHeaders[k])
		}
		if x.ResponseBody != "" {
			fmt.Fprintf(&b, "<\n%s\n", x.ResponseBody)
		}
	case "sql":
		fmt.Fprintf(&b, "> %s\n< %d rows\n%s\n", x.Query, x.RowCount, x.ResponseBody)
	default:
		fmt.Fprintf(&b, "> %s %s\n", x.Protocol, x.URL)
	}
	return b.String()
}

// clean removes characters XML 1.0 cannot hold.
func clean(s string) string {
	// Escaped as in every other report (\x1b, \u202e), then what XML
	// cannot hold at all.
	s = result.Printable(s)
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF, r >= 0xD800 && r <= 0xDFFF:
			return '\uFFFD'
		}
		return r
	}, s)
}

// kindMarkdown render what a suite kind measured for summary.md, after
// the table of suites; kinds without one add nothing.
var kindMarkdown = map[string]func(s *Suite) string{}

// WriteMarkdown writes a summary a CI job can post as a comment.
func (m *Model) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## cloudtest: %s\n\n**Verdict: %s**\n\n", mdText(m.Run.Project), m.Verdict)
	for _, r := range m.Reasons {
		fmt.Fprintf(&b, "- %s\n", mdText(r))
	}
	c := m.Counts
	fmt.Fprintf(&b, "\nRun `%s`, %s. Suites: %d passed, %d failed, %d error, %d skipped. Steps: %d passed, %d failed, %d error, %d skipped.\n\n",
		m.Run.ID, m.DurationText(), c.Suites.Passed, c.Suites.Failed, c.Suites.Errored, c.Suites.Skipped,
		c.Steps.Passed, c.Steps.Failed, c.Steps.Errored, c.Steps.Skipped)
	m.markdownAcceptance(&b)
	b.WriteString("| suite | kind | component | status | steps passed | duration |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, s := range m.Suites {
		status := string(s.Status)
		if !s.Ran {
			status = "not run"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d/%d | %s |\n", mdCell(s.Name), s.Kind, mdCell(s.Component), status,
			s.Steps.Passed, s.Steps.Total(), seconds(s.DurationMS)+"s")
	}
	for _, s := range m.Suites {
		if f, ok := kindMarkdown[s.Kind]; ok {
			if md := f(s); md != "" {
				b.WriteString("\n" + md)
			}
		}
	}
	failures := m.markdownFailures()
	if len(failures) > 0 {
		b.WriteString("\n## Failures\n\n")
		b.WriteString(strings.Join(failures, "\n"))
	}
	for _, wn := range m.Warnings {
		fmt.Fprintf(&b, "\n> Warning: %s\n", mdText(wn))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// markdownAcceptance writes the acceptance matrix (or that it was not
// assessed) and the heading of the suites' table after it.
func (m *Model) markdownAcceptance(b *strings.Builder) {
	if a := m.Acceptance; a != nil && a.NotAssessed != "" {
		fmt.Fprintf(b, "### Acceptance matrix (%s deployment): not assessed\n\n%s\n\n### Suites\n\n", mdText(a.Mode), mdText(a.NotAssessed))
	} else if a != nil {
		fmt.Fprintf(b, "### Acceptance matrix (%s deployment)\n\n| component | category | party | tests | %s |\n| --- | --- | --- | --- |%s\n",
			a.Mode, strings.Join(a.Layers, " | "), strings.Repeat(" --- |", len(a.Layers)))
		cell := func(idx []int) string {
			var parts []string
			for _, i := range idx {
				st := a.Requirements[i]
				what := st.Category + " tests"
				if st.Kind == deploy.KindEvidence {
					what = strings.Join(st.EvidenceKinds, " or ")
				}
				parts = append(parts, st.Outcome+": "+what)
			}
			return mdCell(strings.Join(parts, "; "))
		}
		for _, r := range a.Rows {
			fmt.Fprintf(b, "| %s | %s | %s | %s |", mdCell(r.Component), r.Category, r.Party, cell(r.Tests))
			for _, l := range a.Layers {
				fmt.Fprintf(b, " %s |", cell(r.CellReqs[l]))
			}
			b.WriteString("\n")
		}
		var unmet []string
		for _, st := range a.Requirements {
			if st.Outcome != deploy.Met {
				unmet = append(unmet, fmt.Sprintf("- **%s** %s: %s", st.Outcome, mdCode(st.ID), mdText(st.Why)))
			}
		}
		if len(unmet) > 0 {
			b.WriteString("\nRequirements not met, or waived:\n\n" + strings.Join(unmet, "\n") + "\n")
		}
		b.WriteString("\n### Suites\n\n")
	}
}

// markdownFailures are a section for each failed or errored step, and for
// each failed suite without one.
func (m *Model) markdownFailures() []string {
	var failures []string
	for _, s := range m.Suites {
		for _, cs := range s.Cases {
			for _, st := range cs.Steps {
				if st.Status == result.Failed || st.Status == result.Errored {
					name := st.Step
					if cs.Name != s.Name {
						name = cs.Name + " › " + st.Step
					}
					failures = append(failures, fmt.Sprintf("### %s › %s (%s)\n\n%s\n\n%s\n", mdText(s.Name), mdText(name), st.Status,
						mdText(st.Location), fence(st.Message)))
				}
			}
		}
		if s.Steps.Failed+s.Steps.Errored == 0 && (s.Status == result.Failed || s.Status == result.Errored) {
			failures = append(failures, fmt.Sprintf("### %s (%s)\n\n%s\n", mdText(s.Name), s.Status, fence(s.Message)))
		}
	}
	return failures
}

func mdCell(s string) string { return mdText(s) }

// mdText keeps text from the target or the configuration (names, messages,
// locations) inert in Markdown: control characters are made visible, lines
// are joined, and a backslash (which CommonMark allows before any ASCII
// punctuation) goes before each character that could start a link, an
// image, an autolink, HTML, an entity, emphasis, code, a table cell or a
// block, and before what GFM's bare-URL and e-mail links look for ("://",
// "www.", "@"). Other punctuation is left as it is, for the raw file to
// stay readable.
func mdText(s string) string {
	rs := []rune(strings.ReplaceAll(result.Printable(s), "\n", " "))
	alnum := func(i int) bool {
		return i >= 0 && i < len(rs) && (unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i]))
	}
	lead := 0 // digits that open the text: "1." or "1)" would start a list
	for lead < len(rs) && rs[lead] >= '0' && rs[lead] <= '9' {
		lead++
	}
	var b strings.Builder
	for i, r := range rs {
		esc := false
		switch r {
		case '\\', '`', '*', '[', ']', '<', '>', '&', '~', '|', '!', '@':
			esc = true
		case '_':
			esc = !alnum(i-1) || !alnum(i+1) // snake_case is never emphasis
		case ':':
			esc = i+2 < len(rs) && rs[i+1] == '/' && rs[i+2] == '/'
		case '.':
			esc = i >= 3 && strings.EqualFold(string(rs[i-3:i]), "www") || (i == lead && i > 0)
		case ')':
			esc = i == lead && i > 0
		}
		if i == 0 && r < 0x80 && (unicode.IsPunct(r) || unicode.IsSymbol(r)) {
			esc = true // "#", "-", "+", ">", "=" would open a block
		}
		if esc {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdCode is s as a code span: shown as it is, never interpreted.
func mdCode(s string) string {
	s = strings.ReplaceAll(result.Printable(s), "\n", " ")
	f := "`"
	for strings.Contains(s, f) {
		f += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " " // CommonMark strips one space on each side
	}
	return f + s + f
}

func fence(s string) string {
	s = result.Printable(s)
	f := "```"
	for strings.Contains(s, f) {
		f += "`"
	}
	return f + "\n" + s + "\n" + f
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
