package security

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
)

// plantedSuite runs the headers and exposure checks against the insecure
// demo bank with the given extra attributes and blocks.
func plantedSuite(extra string) string {
	return fmt.Sprintf(`
target "bank" {
  embedded = "demobank"
  demobank { insecure = true }
}

security "planted" {
  target = target.bank
  scope { allow = ["127.0.0.1"] }
  check "headers" { paths = ["/healthz"] }
  check "exposure" { allow_paths = ["/metrics"] }
%s
}
`, extra)
}

var plantedIDs = `["headers/csp-missing", "headers/nosniff-missing", "headers/framing-allowed", "headers/referrer-policy-missing", "headers/version-disclosure", "exposure/admin-exposed"]`

func TestExpectedFindingsMakeANegativeControl(t *testing.T) {
	t.Run("exactly the planted findings pass", func(t *testing.T) {
		r := runSuite(t, plantedSuite("expect_findings = "+plantedIDs), nil)
		if r.suite.Status != result.Passed {
			t.Fatalf("suite %s: %s", r.suite.Status, r.suite.Message)
		}
		for _, f := range r.sum.Findings {
			if f.Status != "expected" {
				t.Errorf("%s is %s, want expected", f.ID, f.Status)
			}
		}
	})
	t.Run("a planted finding not found fails: the check went blind", func(t *testing.T) {
		ids := strings.Replace(plantedIDs, `]`, `, "auth/bola"]`, 1)
		r := runSuite(t, plantedSuite("expect_findings = "+ids), nil)
		if r.suite.Status != result.Failed || !strings.Contains(r.suite.Message, "expected (planted) findings not found: auth/bola") {
			t.Fatalf("suite %s: %s", r.suite.Status, r.suite.Message)
		}
		if len(r.sum.Missing) != 1 || r.sum.Missing[0] != "auth/bola" {
			t.Errorf("missing %v", r.sum.Missing)
		}
	})
	t.Run("a finding not planted fails", func(t *testing.T) {
		ids := strings.Replace(plantedIDs, `"exposure/admin-exposed"`, ``, 1)
		ids = strings.Replace(ids, `, ]`, `]`, 1)
		r := runSuite(t, plantedSuite("expect_findings = "+ids), nil)
		if r.suite.Status != result.Failed || !strings.Contains(r.suite.Message, "exposure/admin-exposed (high) at /admin/users") {
			t.Fatalf("suite %s: %s", r.suite.Status, r.suite.Message)
		}
	})
}

func TestWaiversAcceptFindingsUntilTheyExpire(t *testing.T) {
	r := runSuite(t, plantedSuite(`
  fail_on = "medium"
  waiver "exposure/admin-exposed" {
    where    = "/admin/users"
    reason   = "the admin API is behind the VPN in production"
    approver = "Chen Jing"
    expires  = "2099-12-31"
  }
  waiver "headers/csp-missing" {
    reason   = "expired acceptance"
    approver = "Li Wei"
    expires  = "2020-01-31"
  }
  waiver "headers/framing-allowed" {
    reason   = "API only, never framed"
    approver = "Li Wei"
    expires  = "2099-12-31"
  }
`), nil)
	if r.suite.Status != result.Failed {
		t.Fatalf("suite %s, want failed (the expired waiver does not count)", r.suite.Status)
	}
	if !strings.Contains(r.suite.Message, "headers/csp-missing (medium)") {
		t.Errorf("the finding under an expired waiver must fail the suite: %s", r.suite.Message)
	}
	// fail_on = "medium": the low findings are open but do not fail.
	if strings.Contains(r.suite.Message, "nosniff") || strings.Contains(r.suite.Message, "framing") || strings.Contains(r.suite.Message, "admin-exposed") {
		t.Errorf("waived or low findings fail the suite: %s", r.suite.Message)
	}
	status := map[string]string{}
	for _, f := range r.sum.Findings {
		status[f.ID] = f.Status
	}
	want := map[string]string{"exposure/admin-exposed": "waived", "headers/framing-allowed": "waived", "headers/csp-missing": "open", "headers/nosniff-missing": "open"}
	for id, st := range want {
		if status[id] != st {
			t.Errorf("%s is %q, want %q", id, status[id], st)
		}
	}
	if len(r.sum.Waivers) != 3 || r.sum.Waivers[0].Matched != 1 || !r.sum.Waivers[1].Expired || r.sum.Waivers[1].Matched != 0 {
		t.Errorf("waivers: %+v", r.sum.Waivers)
	}
}
