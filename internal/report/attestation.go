package report

import (
	"github.com/cloudtest/cloudtest/internal/deploy"
	"github.com/cloudtest/cloudtest/internal/evidence"
	"github.com/cloudtest/cloudtest/internal/result"
)

// TestResult is the run as the in-toto test-result predicate says it: the
// verdict as PASSED (accepted), FAILED (rejected) or WARNED (incomplete);
// suites that passed, failed or could not be carried out, and did not run
// or finish; the requirements of the matrix that failed or are not met, as
// "requirement ID".
func (m *Model) TestResult() evidence.TestResult {
	tr := evidence.TestResult{Result: "WARNED", Configuration: []string{"run.json", deploy.InputsFile}}
	switch m.Verdict {
	case Accepted:
		tr.Result = "PASSED"
	case Rejected:
		tr.Result = "FAILED"
	}
	for _, s := range m.Suites {
		switch {
		case !s.Ran || s.Status == result.Skipped:
			tr.Warned = append(tr.Warned, s.Name)
		case s.Status == result.Passed:
			tr.Passed = append(tr.Passed, s.Name)
		default:
			tr.Failed = append(tr.Failed, s.Name)
		}
	}
	if a := m.Acceptance; a != nil {
		for _, st := range a.Requirements {
			switch st.Outcome {
			case deploy.Failed:
				tr.Failed = append(tr.Failed, "requirement "+st.ID)
			case deploy.NotMet:
				tr.Warned = append(tr.Warned, "requirement "+st.ID)
			}
		}
	}
	return tr
}
