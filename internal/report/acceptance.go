package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cloudtest/cloudtest/internal/deploy"
)

// Acceptance is the matrix part of the model: who had to test what, and
// whether it holds.
type Acceptance struct {
	Mode         string                 `json:"mode"`
	Components   []deploy.ComponentInfo `json:"components"`
	Approvers    []approver             `json:"approvers,omitempty"`
	Requirements []deploy.Status        `json:"requirements"`
	Evidence     []deploy.EvidenceItem  `json:"evidence,omitempty"`
	Rows         []Row                  `json:"rows"`
	Layers       []string               `json:"layers"`
	// Outcome is "" when every requirement is met or waived, and
	// NotAssessedOutcome when the matrix was not assessed.
	Outcome string `json:"outcome,omitempty"`
	// NotAssessed says why the matrix was not assessed (the run ran a
	// selection of the suites); empty when it was.
	NotAssessed string `json:"not_assessed,omitempty"`
}

// NotAssessedOutcome is the outcome of a matrix that a run of a selection
// did not assess.
const NotAssessedOutcome = "not_assessed"

type approver struct {
	Name string `json:"name"`
	Role string `json:"role,omitempty"`
}

// Row is one component × category line of the matrix.
type Row struct {
	Component string `json:"component"`
	Category  string `json:"category"`
	Party     string `json:"party"`
	// Tests are the requirements that hold for the whole component (the
	// institution's tests, the drill report); Cells hold the per-layer ones.
	Tests []int `json:"tests"`
	// CellReqs lists, per layer, the indexes into Requirements.
	CellReqs map[string][]int `json:"cells"`
	Outcome  string           `json:"outcome"`
}

func (m *Model) buildAcceptance(in deploy.Inputs) {
	var suites []deploy.SuiteOutcome
	for _, s := range m.Suites {
		comps := s.Components
		if len(comps) == 0 && s.Component != "" {
			comps = []string{s.Component}
		}
		st := s.Status
		if !s.Ran {
			st = ""
		}
		suites = append(suites, deploy.SuiteOutcome{Name: s.Name, Kind: s.Kind, Components: comps, Status: st})
	}
	a := &Acceptance{Mode: in.Mode, Components: in.Components, Evidence: in.Evidence}
	for _, ap := range in.Approvers {
		a.Approvers = append(a.Approvers, approver{ap.Name, ap.Role})
	}
	a.Requirements = deploy.Evaluate(in.Deployment(), in.Requirements, in.Waivers, suites, in.Evidence, m.Run.Started)
	a.Outcome = deploy.Verdict(a.Requirements)
	for _, l := range []string{"iaas", "paas", "saas"} {
		for _, c := range in.Components {
			if slices.Contains(c.Layers, l) && !slices.Contains(a.Layers, l) {
				a.Layers = append(a.Layers, l)
			}
		}
	}
	rows := map[string]*Row{}
	var order []string
	for i, st := range a.Requirements {
		if st.Component == "" {
			continue
		}
		key := st.Component + "/" + st.Category
		r, ok := rows[key]
		if !ok {
			r = &Row{Component: st.Component, Category: st.Category, CellReqs: map[string][]int{}, Outcome: deploy.Met}
			rows[key] = r
			order = append(order, key)
		}
		if st.Layer == "" {
			r.Tests = append(r.Tests, i)
		} else {
			r.CellReqs[st.Layer] = append(r.CellReqs[st.Layer], i)
		}
		if st.Kind == deploy.KindTest || r.Party == "" {
			r.Party = st.Party
		}
		r.Outcome = worseOutcome(r.Outcome, st.Outcome)
	}
	for _, k := range order {
		a.Rows = append(a.Rows, *rows[k])
	}
	m.Acceptance = a
	m.attachEvidence(in)
}

// skipAcceptance stands for buildAcceptance on a run of a selection: the
// run is judged on the suites it selected, and the matrix (which holds the
// requirements of every suite, selected or not) is shown as not assessed.
// The evidence is still listed and checked: its state does not depend on
// the suites.
func (m *Model) skipAcceptance(in deploy.Inputs) {
	a := &Acceptance{Mode: in.Mode, Components: in.Components, Evidence: in.Evidence, Outcome: NotAssessedOutcome,
		NotAssessed: fmt.Sprintf("The acceptance matrix of the %s deployment was not assessed: this run selected suites (%s), and the matrix is assessed on a run of every suite.",
			in.Mode, strings.Join(m.Run.Selection, " "))}
	for _, ap := range in.Approvers {
		a.Approvers = append(a.Approvers, approver{ap.Name, ap.Role})
	}
	m.Acceptance = a
	m.attachEvidence(in)
}

// attachEvidence shows the drill reports beside the security suites of
// their components and warns about evidence close to its end.
func (m *Model) attachEvidence(in deploy.Inputs) {
	for _, s := range m.Suites {
		if s.Kind != "security" {
			continue
		}
		comps := s.Components
		if len(comps) == 0 {
			comps = []string{s.Component}
		}
		for _, e := range in.Evidence {
			if e.Kind == "drill_report" && slices.ContainsFunc(comps, func(c string) bool { return e.Covers(c, "", "") }) {
				s.DrillReports = append(s.DrillReports, e)
			}
		}
	}
	for _, e := range in.Evidence {
		if e.Warning != "" {
			m.Warnings = append(m.Warnings, e.Warning)
		}
	}
}

func worseOutcome(a, b string) string {
	rank := map[string]int{deploy.Met: 0, deploy.WaivedOut: 1, deploy.NotMet: 2, deploy.Failed: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// acceptanceReasons lists the unmet requirements for the verdict.
func (m *Model) acceptanceReasons() (failed, missing []string) {
	if m.Acceptance == nil || m.Acceptance.NotAssessed != "" {
		return nil, nil
	}
	for _, st := range m.Acceptance.Requirements {
		switch st.Outcome {
		case deploy.Failed:
			failed = append(failed, fmt.Sprintf("Requirement %s failed: %s", st.ID, st.Why))
		case deploy.NotMet:
			missing = append(missing, fmt.Sprintf("Requirement %s is not met: %s", st.ID, st.Why))
		}
	}
	return failed, missing
}
