// Package report builds the acceptance model of a run directory from its
// run.json and results.jsonl, and renders it as report.html (for people),
// report.json, junit.xml and summary.md (for machines). Rendering is a pure
// function of the run directory: `cloudtest report DIR` renders it again.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloudtest/cloudtest/internal/deploy"
	"github.com/cloudtest/cloudtest/internal/result"
)

// Verdict is the one answer of a run.
type Verdict string

const (
	Accepted   Verdict = "ACCEPTED"
	Rejected   Verdict = "REJECTED"
	Incomplete Verdict = "INCOMPLETE"
)

// ExitCode is the process exit code of a verdict (an interrupted run exits
// 130 whatever its verdict; the command decides that).
func (v Verdict) ExitCode() int {
	switch v {
	case Accepted:
		return 0
	case Rejected:
		return 1
	}
	return 3
}

// Model is everything the renderers show.
type Model struct {
	Run     result.Run `json:"run"`
	Verdict Verdict    `json:"verdict"`
	Reasons []string   `json:"reasons"`
	// Recap is Reasons as a terminal that showed the run prints them
	// after it: a failed suite's reason names its failed steps and points
	// above, where each was printed in full while it ran (a failure is
	// printed once); the other reasons are as in Reasons.
	Recap    []string `json:"-"`
	Warnings []string `json:"warnings,omitempty"`
	Counts   Counts   `json:"counts"`
	// Acceptance is the responsibility matrix evaluated against the run; nil
	// when the suites declare no deployment.
	Acceptance *Acceptance `json:"acceptance,omitempty"`
	Suites     []*Suite    `json:"suites"`
}

// Counts tally outcomes by level.
type Counts struct {
	Suites Tally `json:"suites"`
	Cases  Tally `json:"cases"`
	Steps  Tally `json:"steps"`
}

// Tally counts outcomes.
type Tally struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Errored int `json:"error"`
	Skipped int `json:"skipped"`
}

// Total is the number counted.
func (t Tally) Total() int { return t.Passed + t.Failed + t.Errored + t.Skipped }

func (t *Tally) add(s result.Status) {
	switch s {
	case result.Passed:
		t.Passed++
	case result.Failed:
		t.Failed++
	case result.Errored:
		t.Errored++
	default:
		t.Skipped++
	}
}

// Suite is one suite with its cases and steps.
type Suite struct {
	Name       string        `json:"name"`
	Kind       string        `json:"kind"`
	Component  string        `json:"component,omitempty"`
	Components []string      `json:"components,omitempty"`
	Target     string        `json:"target,omitempty"`
	Location   string        `json:"location,omitempty"`
	Planned    bool          `json:"planned"`
	Ran        bool          `json:"ran"`
	Status     result.Status `json:"status"`
	Message    string        `json:"message,omitempty"`
	DurationMS float64       `json:"duration_ms"`
	Cases      []*Case       `json:"cases"`
	// SummarisedCases counts the passed cases past the first
	// KeptPassedCases: they are counted and listed, without their checks
	// and exchanges, and the HTML page does not show them one by one.
	SummarisedCases int             `json:"summarised_cases,omitempty"`
	Steps           Tally           `json:"steps"`
	Data            json.RawMessage `json:"data,omitempty"`
	// parts are the suite's LevelPart records, used when it never finished.
	parts []json.RawMessage
	// DrillReports are the drill reports of qualified teams (vendor
	// evidence) on the suite's components, shown beside a security suite's
	// own drills.
	DrillReports []deploy.EvidenceItem `json:"drill_reports,omitempty"`
}

// Case is a functional case (or, for other kinds, a group of steps).
type Case struct {
	Name       string          `json:"name"`
	Status     result.Status   `json:"status"`
	Message    string          `json:"message,omitempty"`
	DurationMS float64         `json:"duration_ms"`
	Location   string          `json:"location,omitempty"`
	Steps      []result.Result `json:"steps"`
	// Summarised is a passed case past the first KeptPassedCases of its
	// suite (see Suite.SummarisedCases).
	Summarised bool `json:"summarised,omitempty"`
	// order is the case's declared place (result.Result.Order), 0 when
	// the suite gave none.
	order int
	// recorded is true when the suite recorded the case's own result; a
	// case without one (a security suite's checks, an identity's login)
	// takes the worst status of its steps.
	recorded bool
}

// KeptPassedCases is how many passed cases of a suite the report keeps in
// full; every failed, errored or skipped case is always kept in full. A
// for_each over 100,000 cases made a 108 MB page that no browser opens.
const KeptPassedCases = 100

// Load reads the run directory. A torn last line of results.jsonl (a crash
// in the middle of a write) is skipped and noted as a warning.
func Load(dir string) (*Model, error) {
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		return nil, fmt.Errorf("reading the run: %w", err)
	}
	m := &Model{}
	if err := json.Unmarshal(b, &m.Run); err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, "run.json"), err)
	}
	results, warnings, err := readResults(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		return nil, err
	}
	m.Warnings = warnings
	in, ok, err := deploy.ReadInputs(dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", deploy.InputsFile, err)
	}
	m.build(results)
	switch {
	case ok && len(m.Run.Selection) > 0:
		m.skipAcceptance(in)
	case ok:
		m.buildAcceptance(in)
	case len(m.Run.Selection) > 0 && m.Run.Deployment != "":
		// A run killed before its end has no acceptance.json; its
		// selection still left the matrix unassessed.
		m.skipAcceptance(deploy.Inputs{Mode: m.Run.Deployment})
	}
	m.verdict()
	return m, nil
}

func readResults(path string) ([]result.Result, []string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, []string{"results.jsonl is missing: no result was recorded"}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var out []result.Result
	var warnings []string
	r := bufio.NewReaderSize(f, 1<<20)
	// Lines are read a batch at a time and decoded on every core: the
	// decoding is most of the time a large run's report takes.
	var batch [][]byte
	first := 1
	flush := func() {
		res, errs := decodeLines(batch)
		for i := range batch {
			if errs[i] != nil {
				warnings = append(warnings, fmt.Sprintf("results.jsonl line %d is incomplete or damaged and was skipped (%v)", first+i, errs[i]))
			} else if res[i] != nil {
				out = append(out, *res[i])
			}
		}
		first += len(batch)
		batch = batch[:0]
	}
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 || err == nil {
			batch = append(batch, line)
		}
		if len(batch) == readBatch {
			flush()
		}
		if err != nil {
			break
		}
	}
	flush()
	return out, warnings, nil
}

// readBatch is how many lines of results.jsonl are decoded together.
const readBatch = 4096

// decodeLines decodes each line into a result (nil for a blank line) or
// an error, splitting the lines over GOMAXPROCS goroutines.
func decodeLines(lines [][]byte) ([]*result.Result, []error) {
	res, errs := make([]*result.Result, len(lines)), make([]error, len(lines))
	workers := min(runtime.GOMAXPROCS(0), 1+len(lines)/256)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(lines); i += workers {
				if len(bytes.TrimSpace(lines[i])) == 0 {
					continue
				}
				var r result.Result
				if errs[i] = json.Unmarshal(lines[i], &r); errs[i] == nil {
					res[i] = &r
				}
			}
		}()
	}
	wg.Wait()
	return res, errs
}

func (m *Model) build(results []result.Result) {
	byName := map[string]*Suite{}
	for _, p := range m.Run.Suites {
		s := &Suite{Name: p.Name, Kind: p.Kind, Component: p.Component, Components: p.Components,
			Target: p.Target, Location: p.Location, Planned: true, Status: result.Skipped}
		byName[p.Name] = s
		m.Suites = append(m.Suites, s)
	}
	suite := func(r result.Result) *Suite {
		s, ok := byName[r.Suite]
		if !ok {
			s = &Suite{Name: r.Suite, Kind: r.Kind, Component: r.Component, Status: result.Skipped}
			byName[r.Suite] = s
			m.Suites = append(m.Suites, s)
		}
		return s
	}
	// Cases are found by name through a map: a search of the list made
	// 100,000 cases cost 5·10⁹ comparisons.
	cases := map[*Suite]map[string]*Case{}
	caseOf := func(s *Suite, name string) *Case {
		if name == "" {
			name = s.Name
		}
		if c, ok := cases[s][name]; ok {
			return c
		}
		if cases[s] == nil {
			cases[s] = map[string]*Case{}
		}
		c := &Case{Name: name, Status: result.Passed}
		cases[s][name] = c
		s.Cases = append(s.Cases, c)
		return c
	}
	for _, r := range results {
		s := suite(r)
		switch r.Level {
		case result.LevelSuite:
			s.Ran, s.Status, s.Message, s.DurationMS, s.Data = true, r.Status, r.Message, r.DurationMS, r.Data
			if s.Location == "" {
				s.Location = r.Location
			}
		case result.LevelPart:
			s.parts = append(s.parts, r.Data)
		case result.LevelCase:
			c := caseOf(s, r.Case)
			c.Status, c.Message, c.DurationMS, c.Location, c.recorded = r.Status, r.Message, r.DurationMS, r.Location, true
			c.order = max(c.order, r.Order)
		default:
			c := caseOf(s, r.Case)
			c.order = max(c.order, r.Order)
			c.Steps = append(c.Steps, r)
			s.Steps.add(r.Status)
			m.Counts.Steps.add(r.Status)
		}
	}
	m.finishSuites()
}

// finishSuites completes the suites once every result is in: a suite the
// run ended shows what its parts measured, cases without a result of their
// own take their steps', and the counts add up.
func (m *Model) finishSuites() {
	for _, s := range m.Suites {
		if f, ok := kindParts[s.Kind]; ok && !s.Ran && len(s.parts) > 0 {
			// The run ended before the suite did: show what it had
			// measured, from the parts it wrote as it ran.
			f(s, s.parts)
		}
		m.Counts.Suites.add(s.Status)
		s.declaredOrder()
		for _, c := range s.Cases {
			if !c.recorded {
				c.Status, c.DurationMS = rollUp(c.Steps)
			}
			m.Counts.Cases.add(c.Status)
		}
		s.summarise()
	}
}

// declaredOrder puts the cases of s in the order the suite declared them
// (result.Result.Order), setup first and teardown last, when every other
// case has its place: cases that ran in parallel were recorded in the order
// they finished.
func (s *Suite) declaredOrder() {
	key := func(c *Case) int {
		switch {
		case c.order > 0:
			return c.order
		case c.Name == "setup":
			return 0
		case c.Name == "teardown":
			return math.MaxInt
		}
		return -1
	}
	for _, c := range s.Cases {
		if key(c) < 0 {
			return
		}
	}
	sort.SliceStable(s.Cases, func(i, j int) bool { return key(s.Cases[i]) < key(s.Cases[j]) })
}

// summarise marks the passed cases of s past the first KeptPassedCases and
// drops their steps' checks and exchanges from the model (results.jsonl
// keeps them).
func (s *Suite) summarise() {
	passed := 0
	for _, c := range s.Cases {
		if c.Status != result.Passed {
			continue
		}
		if passed++; passed <= KeptPassedCases {
			continue
		}
		c.Summarised = true
		s.SummarisedCases++
		for i := range c.Steps {
			c.Steps[i].Checks, c.Steps[i].Exchange = nil, nil
		}
	}
}

// verdict: INCOMPLETE when the run itself did not finish; otherwise
// REJECTED when a suite or a requirement failed; otherwise INCOMPLETE when a
// suite did not run or a requirement is not met; otherwise ACCEPTED. A run
// of a selection is judged on its suites alone: its matrix is not assessed.
func (m *Model) verdict() {
	unfinished, rejected, incomplete, pointers := m.verdictReasons()
	recap := func(reasons []string) []string {
		out := slices.Clone(reasons)
		for i, p := range pointers {
			out[i] = p
		}
		return out
	}
	switch {
	case len(unfinished) > 0:
		m.Verdict = Incomplete
		m.Reasons = append(append(unfinished, rejected...), incomplete...)
		m.Recap = append(append(slices.Clone(unfinished), recap(rejected)...), incomplete...)
	case len(rejected) > 0:
		m.Verdict = Rejected
		m.Reasons = append(rejected, incomplete...)
		m.Recap = append(recap(rejected), incomplete...)
	case len(incomplete) > 0:
		m.Verdict = Incomplete
		m.Reasons = incomplete
	default:
		m.Verdict = Accepted
		m.Reasons = m.acceptedReasons()
	}
	if m.Recap == nil {
		m.Recap = slices.Clone(m.Reasons)
	}
	if m.Acceptance != nil && m.Acceptance.NotAssessed != "" {
		m.Reasons = append(m.Reasons, m.Acceptance.NotAssessed)
		m.Recap = append(m.Recap, m.Acceptance.NotAssessed)
	}
}

// verdictReasons gathers the reasons of a verdict other than Accepted from
// the run, its suites and the acceptance requirements: why the run did not
// finish, why it is rejected and what is missing. pointers are the recap's
// line of each reason of rejected that differs from it (see Model.Recap).
func (m *Model) verdictReasons() (unfinished, rejected, incomplete []string, pointers map[int]string) {
	pointers = map[int]string{}
	if m.Run.Interrupted {
		unfinished = append(unfinished, "The run was interrupted before every suite had finished.")
	}
	if m.Run.Error != "" {
		unfinished = append(unfinished, "The run failed: "+m.Run.Error)
	}
	if len(m.Suites) == 0 {
		incomplete = append(incomplete, "No suite was selected.")
	}
	for _, s := range m.Suites {
		switch {
		case !s.Ran:
			incomplete = append(incomplete, fmt.Sprintf("%s suite %q did not run.", s.Kind, s.Name))
		case s.Status == result.Skipped:
			incomplete = append(incomplete, fmt.Sprintf("%s suite %q did not finish: %s", s.Kind, s.Name, strings.TrimSpace(s.Message)))
		case s.Status == result.Failed || s.Status == result.Errored:
			pointers[len(rejected)] = fmt.Sprintf("%s suite %q %s%s (printed in full above)", s.Kind, s.Name, verb(s.Status), s.failedSteps())
			rejected = append(rejected, fmt.Sprintf("%s suite %q %s: %s", s.Kind, s.Name, verb(s.Status), strings.TrimSpace(s.Message)))
		}
	}
	failedReqs, missingReqs := m.acceptanceReasons()
	rejected = append(rejected, failedReqs...)
	incomplete = append(incomplete, missingReqs...)
	return unfinished, rejected, incomplete, pointers
}

// acceptedReasons are the reasons of an Accepted verdict: every suite (of
// the selection) passed, and every requirement is met or waived.
func (m *Model) acceptedReasons() []string {
	reasons := []string{fmt.Sprintf("All %d suites passed.", len(m.Suites))}
	if len(m.Run.Selection) > 0 {
		reasons[0] = fmt.Sprintf("All %d suites of the selection passed.", len(m.Suites))
	}
	if m.Acceptance != nil && m.Acceptance.NotAssessed == "" {
		reasons = append(reasons, fmt.Sprintf("All %d requirements of the %s deployment are met or waived.", len(m.Acceptance.Requirements), m.Acceptance.Mode))
	}
	return reasons
}

// maxNamedSteps is how many failed steps a recap line names.
const maxNamedSteps = 3

// failedSteps names the steps of s that failed or could not be carried
// out, in the report's order (" at step "x" of case "c", …"), or "" when
// none did (the suite's own message was printed on its end line).
func (s *Suite) failedSteps() string {
	var names []string
	n := 0
	for _, c := range s.Cases {
		for _, st := range c.Steps {
			if st.Status != result.Failed && st.Status != result.Errored {
				continue
			}
			if n++; n > maxNamedSteps {
				continue
			}
			name := fmt.Sprintf("step %q", st.Step)
			if c.Name != "" && c.Name != s.Name {
				name += fmt.Sprintf(" of case %q", c.Name)
			}
			names = append(names, name)
		}
	}
	if n == 0 {
		return ""
	}
	if n > maxNamedSteps {
		names = append(names, fmt.Sprintf("%d more steps", n-maxNamedSteps))
	}
	return " at " + strings.Join(names, ", ")
}

// rollUp is the status of a case that has no result of its own: the worst
// status of its steps (passed when it has none), and their total duration.
func rollUp(steps []result.Result) (result.Status, float64) {
	st, ms := result.Passed, 0.0
	for _, r := range steps {
		if r.Status.Worse(st) {
			st = r.Status
		}
		ms += r.DurationMS
	}
	return st, ms
}

func verb(s result.Status) string {
	if s == result.Errored {
		return "could not be carried out"
	}
	return "failed"
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// Duration is how long the run took.
func (m *Model) Duration() time.Duration {
	if m.Run.Finished.IsZero() {
		return 0
	}
	return m.Run.Finished.Sub(m.Run.Started).Round(time.Millisecond)
}

// DurationText is how long the run took, or that its end is unknown when
// it did not finish (killed).
func (m *Model) DurationText() string {
	if m.Run.Finished.IsZero() {
		return "end unknown (the run did not finish)"
	}
	return m.Duration().String()
}

// Render loads dir and (re)writes report.json, report.html, junit.xml and
// summary.md in it. Each file is written to a temporary name and renamed,
// so a reader never sees half a report.
func Render(dir string) (*Model, error) {
	m, err := Load(dir)
	if err != nil {
		return nil, err
	}
	for _, out := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"report.json", func(b *bytes.Buffer) error { return m.WriteJSON(b) }},
		{"report.html", func(b *bytes.Buffer) error { return m.WriteHTML(b) }},
		{"junit.xml", func(b *bytes.Buffer) error { return m.WriteJUnit(b) }},
		{"summary.md", func(b *bytes.Buffer) error { return m.WriteMarkdown(b) }},
		{OSCALFile, func(b *bytes.Buffer) error { return m.WriteOSCAL(b) }},
		{SARIFFile, func(b *bytes.Buffer) error { return m.WriteSARIF(b) }},
	} {
		var buf bytes.Buffer
		if err := out.write(&buf); err != nil {
			return m, fmt.Errorf("rendering %s: %w", out.name, err)
		}
		tmp := filepath.Join(dir, "."+out.name+".tmp")
		if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
			return m, err
		}
		if err := os.Rename(tmp, filepath.Join(dir, out.name)); err != nil {
			return m, err
		}
	}
	return m, nil
}
