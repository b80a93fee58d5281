// Package result holds the one record every suite kind emits and the run's
// metadata. The runner appends records to results.jsonl as they happen; the
// report reads only these records, never a suite's internals.
package result

import (
	"encoding/json"
	"time"
)

// Status is the outcome of a step, a case or a suite.
type Status string

const (
	Passed  Status = "passed"
	Failed  Status = "failed"  // an expectation, assertion, threshold or objective was broken
	Errored Status = "error"   // the test could not be carried out (connection refused, bad value)
	Skipped Status = "skipped" // not run: an earlier step failed, or the run was interrupted
)

// Worse reports whether s is a worse outcome than o (error > failed > skipped > passed).
func (s Status) Worse(o Status) bool { return s.rank() > o.rank() }

func (s Status) rank() int {
	switch s {
	case Errored:
		return 3
	case Failed:
		return 2
	case Skipped:
		return 1
	}
	return 0
}

// Level says what a record describes.
type Level string

const (
	LevelStep  Level = "step"
	LevelCase  Level = "case"
	LevelSuite Level = "suite"
	// LevelPart is a piece of what a running suite has measured so far
	// (a reliability suite's probes and writes of the last second),
	// written so that a run killed in the middle keeps it; it has no
	// status. The suite's own record, when it comes, holds all of it, so
	// the report uses the parts only for a suite that never finished.
	LevelPart Level = "part"
)

// Result is one line of results.jsonl.
type Result struct {
	Time       time.Time `json:"time"`
	Suite      string    `json:"suite"`
	Kind       string    `json:"kind"`
	Component  string    `json:"component,omitempty"`
	Components []string  `json:"components,omitempty"`
	Level      Level     `json:"level"`
	Case       string    `json:"case,omitempty"`
	// Order is a case's place among its suite's cases as declared, from 1
	// (for_each elements in their order), so that every report lists the
	// cases in that order whatever order they finished in (parallel).
	Order      int     `json:"order,omitempty"`
	Step       string  `json:"step,omitempty"`
	Phase      string  `json:"phase,omitempty"` // setup, test or teardown for steps
	Status     Status  `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	// Message says why a step failed, in the words of the matcher that failed
	// (gomega's "Expected <int>: 500 to equal <int>: 200").
	Message string `json:"message,omitempty"`
	// First is, for a step, its first failure in full and the names of
	// the other failed checks: what the terminal prints (not stored;
	// Message has every failure).
	First string `json:"-"`
	// Location is the file:line of the block that produced the result.
	Location string    `json:"location,omitempty"`
	Checks   []Check   `json:"checks,omitempty"`
	Exchange *Exchange `json:"exchange,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	// Data carries what a suite kind measured beyond pass or fail (load
	// metrics, RTO and RPO, findings); the report renders it per kind.
	Data json.RawMessage `json:"data,omitempty"`
}

// Check is one expectation or assertion of a step.
type Check struct {
	Name     string `json:"name"`
	Status   Status `json:"status"`
	Message  string `json:"message,omitempty"`
	Location string `json:"location,omitempty"`
}

// Exchange is a redacted, size-bounded excerpt of what was sent and received.
type Exchange struct {
	Protocol        string            `json:"protocol"` // http, sql, tcp
	Method          string            `json:"method,omitempty"`
	URL             string            `json:"url,omitempty"`
	RequestHeaders  map[string]string `json:"request_headers,omitempty"`
	RequestBody     string            `json:"request_body,omitempty"`
	Status          int               `json:"status,omitempty"`
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	ResponseBody    string            `json:"response_body,omitempty"`
	Truncated       bool              `json:"truncated,omitempty"`
	Query           string            `json:"query,omitempty"`
	RowCount        int               `json:"row_count,omitempty"`
}

// Run describes one run; it is written as run.json in the run directory when
// the run starts and rewritten when it ends.
type Run struct {
	ID          string    `json:"id"`
	Project     string    `json:"project"`
	Source      string    `json:"source"`
	Version     string    `json:"version"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished,omitzero"`
	Interrupted bool      `json:"interrupted,omitempty"`
	Error       string    `json:"error,omitempty"` // a failure of the run itself (a target that would not start)
	Selection   []string  `json:"selection,omitempty"`
	// Deployment is the mode of the suites' deployment block, written at
	// the start: a run killed before its end (which has no
	// acceptance.json) still says that a selection left its matrix
	// unassessed.
	Deployment string         `json:"deployment,omitempty"`
	Suites     []PlannedSuite `json:"suites"`
}

// PlannedSuite is a suite the plan selected; a planned suite with no suite
// result did not run, which makes the verdict incomplete.
type PlannedSuite struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Component  string   `json:"component,omitempty"`
	Components []string `json:"components,omitempty"`
	Target     string   `json:"target,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Location   string   `json:"location,omitempty"`
}

// MS is d in milliseconds, to the microsecond: the unit of every *MS field
// of a result.
func MS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
