package deploy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

// Evidence states.
const (
	Present     = "present"
	Missing     = "missing"
	Tampered    = "tampered"
	Expired     = "expired"
	NotYetValid = "not_yet_valid"
	BadSig      = "bad_signature"
	Invalid     = "invalid"
)

// EvidenceItem is a verified evidence block as the matrix sees it.
type EvidenceItem struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Components []string `json:"components"`
	Categories []string `json:"categories,omitempty"` // empty: every category
	Layers     []string `json:"layers,omitempty"`     // empty: every layer
	State      string   `json:"state"`
	Message    string   `json:"message,omitempty"`
	Warning    string   `json:"warning,omitempty"`
	Location   string   `json:"location"`
	SHA256     string   `json:"sha256,omitempty"`
	Issuer     string   `json:"issuer,omitempty"`
	ValidUntil string   `json:"valid_until,omitempty"`
	Stored     string   `json:"stored,omitempty"` // evidence/<sha256> in the run directory
}

// Covers reports whether the item covers component, category and layer.
func (e EvidenceItem) Covers(component, category, layer string) bool {
	return slices.Contains(e.Components, component) &&
		(category == "" || len(e.Categories) == 0 || slices.Contains(e.Categories, category)) &&
		(layer == "" || len(e.Layers) == 0 || slices.Contains(e.Layers, layer))
}

// Requirement outcomes.
const (
	Met       = "met"
	Failed    = "failed"
	NotMet    = "missing"
	WaivedOut = "waived"
)

// Status is a requirement evaluated against a run.
type Status struct {
	Requirement
	Outcome  string   `json:"outcome"`
	Why      string   `json:"why"`
	Suites   []string `json:"suites,omitempty"`   // suites that count for a test requirement
	Evidence []string `json:"evidence,omitempty"` // evidence that counts (or was rejected)
	// EvidenceState is the state of the evidence found for an evidence
	// requirement: present, or why the best candidate does not count
	// (expired, tampered…); missing when there is none.
	EvidenceState string  `json:"evidence_state,omitempty"`
	Waiver        *Waiver `json:"waiver,omitempty"`
}

// SuiteOutcome is a suite's planned identity and its final status ("" when
// it did not run).
type SuiteOutcome struct {
	Name       string
	Kind       string
	Components []string
	Status     result.Status
}

// Evaluate decides each requirement from the run's suites, the verified
// evidence and the waivers in force at now.
func Evaluate(dep *config.Deployment, reqs []Requirement, waivers []Waiver, suites []SuiteOutcome, evidence []EvidenceItem, now time.Time) []Status {
	out := make([]Status, 0, len(reqs))
	for _, r := range reqs {
		st := Status{Requirement: r}
		switch r.Kind {
		case KindTest:
			st.Outcome, st.Why, st.Suites = testOutcome(r, suites)
		case KindLink:
			st.Outcome, st.Why, st.Suites = linkOutcome(dep, suites)
		case KindEvidence:
			st.Outcome, st.Why, st.Evidence, st.EvidenceState = evidenceOutcome(r, evidence)
		}
		if st.Outcome != Met {
			for _, w := range waivers {
				if w.Requirement != r.ID {
					continue
				}
				w := w
				if !now.Before(w.Expires.AddDate(0, 0, 1)) {
					st.Why += fmt.Sprintf(" Waiver %q expired on %s and no longer counts.", w.ID, w.Expires.Format("2006-01-02"))
					continue
				}
				st.Waiver = &w
				st.Why = fmt.Sprintf("Waived until %s by %s: %s (was: %s)", w.Expires.Format("2006-01-02"), w.Approver, w.Reason, st.Why)
				st.Outcome = WaivedOut
			}
		}
		out = append(out, st)
	}
	return out
}

// tally sorts the suites that match into passed and failed.
func tally(suites []SuiteOutcome, match func(SuiteOutcome) bool) (names, passed, failed []string) {
	for _, s := range suites {
		if !match(s) {
			continue
		}
		names = append(names, s.Name)
		switch s.Status {
		case result.Passed:
			passed = append(passed, s.Name)
		case result.Failed, result.Errored:
			failed = append(failed, s.Name)
		}
	}
	return names, passed, failed
}

func testOutcome(r Requirement, suites []SuiteOutcome) (string, string, []string) {
	names, passed, failed := tally(suites, func(s SuiteOutcome) bool {
		return Category(s.Kind) == r.Category && slices.Contains(s.Components, r.Component)
	})
	switch {
	case len(failed) > 0:
		return Failed, fmt.Sprintf("%s suite %s did not pass.", r.Category, quoteAll(failed)), names
	case len(passed) > 0:
		return Met, fmt.Sprintf("%s suite %s passed.", r.Category, quoteAll(passed)), names
	case len(names) > 0:
		return NotMet, fmt.Sprintf("%s suite %s did not run.", r.Category, quoteAll(names)), names
	}
	return NotMet, fmt.Sprintf("No %s suite tests component %q.", r.Category, r.Component), nil
}

func linkOutcome(dep *config.Deployment, suites []SuiteOutcome) (string, string, []string) {
	private, community := componentsOf(dep, "private"), componentsOf(dep, "community")
	names, passed, failed := tally(suites, func(s SuiteOutcome) bool {
		hasP, hasC := false, false
		for _, c := range s.Components {
			hasP = hasP || slices.Contains(private, c)
			hasC = hasC || slices.Contains(community, c)
		}
		return hasP && hasC
	})
	switch {
	case len(failed) > 0:
		return Failed, fmt.Sprintf("The end-to-end suite %s did not pass.", quoteAll(failed)), names
	case len(passed) > 0:
		return Met, fmt.Sprintf("Suite %s tested a private and a community component together.", quoteAll(passed)), names
	}
	return NotMet, "No suite names a private and a community component in its components.", names
}

func evidenceOutcome(r Requirement, items []EvidenceItem) (outcome, why string, names []string, state string) {
	var problems []string
	state = Missing
	for _, e := range items {
		if !slices.Contains(r.EvidenceKinds, e.Kind) || !e.Covers(r.Component, r.Category, r.Layer) {
			continue
		}
		names = append(names, e.Name)
		if e.State == Present {
			return Met, fmt.Sprintf("Evidence %q (%s) is present and valid.", e.Name, e.Kind), []string{e.Name}, Present
		}
		if len(problems) == 0 {
			state = e.State
		}
		problems = append(problems, fmt.Sprintf("evidence %q is %s: %s", e.Name, strings.ReplaceAll(e.State, "_", " "), e.Message))
	}
	if len(problems) > 0 {
		return NotMet, upper(strings.Join(problems, "; ")) + ".", names, state
	}
	return NotMet, fmt.Sprintf("No %s covers this.", strings.Join(r.EvidenceKinds, " or ")), nil, Missing
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Verdict sums the requirements up: "failed" when one failed, "missing"
// when one is not met, "" when all are met or waived.
func Verdict(sts []Status) string {
	v := ""
	for _, s := range sts {
		switch s.Outcome {
		case Failed:
			return Failed
		case NotMet:
			v = NotMet
		}
	}
	return v
}
