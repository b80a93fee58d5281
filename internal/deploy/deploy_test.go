package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

func load(t *testing.T, src string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "d.hcl"), []byte(src), 0o644)
	cfg, _, diags := config.Load(dir, config.Options{Blocks: []config.BlockKind{RequirementBlock, WaiverBlock}})
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	return cfg
}

func ids(reqs []Requirement, filter func(Requirement) bool) []string {
	var out []string
	for _, r := range reqs {
		if filter(r) {
			out = append(out, r.ID)
		}
	}
	return out
}

func find(t *testing.T, reqs []Requirement, id string) Requirement {
	t.Helper()
	for _, r := range reqs {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no requirement %s among %v", id, ids(reqs, func(Requirement) bool { return true }))
	return Requirement{}
}

const private = `deployment {
  mode = "private"
  component "ledger" {
    layers = ["iaas", "paas"]
    tier   = "critical"
  }
}`

const community = `deployment {
  mode = "community"
  component "mobile" {
    layers = ["paas", "saas"]
    vendor = "acme"
  }
}`

const hybrid = `deployment {
  mode = "hybrid"
  component "ledger" {
    mode   = "private"
    layers = ["iaas"]
  }
  component "mobile" {
    mode   = "community"
    layers = ["saas"]
    vendor = "acme"
  }
}`

func TestTheMatrixFollowsTheGuide(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		tests      []string // test requirements
		evidence   map[string][]string
		party      map[string]string
		count      int
		hasLink    bool
		notPresent []string
	}{
		{
			name:  "private: the institution tests all four categories jointly and the vendor hands design documents and a test plan per layer",
			src:   private,
			tests: []string{"ledger/functional/test", "ledger/performance/test", "ledger/reliability/test", "ledger/security/test"},
			evidence: map[string][]string{
				"ledger/functional/iaas/evidence:design_doc":        {"design_doc"},
				"ledger/reliability/paas/evidence:test_plan":        {"test_plan"},
				"ledger/security/paas/evidence:hardening_guide":     {"hardening_guide"},
				"ledger/security/iaas/evidence:test_report":         {"test_report"},
				"ledger/security/iaas/evidence:product_manual":      {"product_manual"},
				"ledger/security/iaas/evidence:best_practice_guide": {"best_practice_guide"},
				"ledger/security/drill":                             {"drill_report"},
			},
			party: map[string]string{"ledger/functional/test": Joint, "ledger/functional/iaas/evidence:design_doc": Joint},
			// 4 tests + 4 categories x 2 layers x 2 docs + 2 layers x 4 security extras + drill
			count:      4 + 16 + 8 + 1,
			notPresent: []string{"ledger/functional/iaas/evidence:certification", "ledger/saas"},
		},
		{
			name:  "community: the tenant tests its business and the vendor hands certifications, plus security and penetration reports",
			src:   community,
			tests: []string{"mobile/functional/test", "mobile/performance/test", "mobile/security/test"},
			evidence: map[string][]string{
				"mobile/reliability/paas/evidence:certification": {"certification", "test_report"},
				"mobile/security/saas/evidence:pentest_report":   {"pentest_report"},
				"mobile/security/saas/evidence:test_report":      {"test_report"},
				"mobile/security/drill":                          {"drill_report"},
			},
			party: map[string]string{"mobile/functional/test": Institution, "mobile/functional/paas/evidence:certification": Vendor,
				"mobile/functional/saas/evidence:certification": Institution},
			// 3 tests + 4 categories x 2 layers certification + 2 layers x 2 security extras + drill
			count:      3 + 8 + 4 + 1,
			notPresent: []string{"mobile/reliability/test", "mobile/functional/paas/evidence:design_doc"},
		},
		{
			name:    "hybrid: each component by its own mode, plus the end-to-end link",
			src:     hybrid,
			tests:   []string{"ledger/functional/test", "ledger/performance/test", "ledger/reliability/test", "ledger/security/test", "mobile/functional/test", "mobile/performance/test", "mobile/security/test"},
			hasLink: true,
			count:   (4 + 8 + 4 + 1) + (3 + 4 + 2 + 1) + 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqs := Matrix(load(t, tt.src).Deployment)
			if len(reqs) != tt.count {
				t.Errorf("%d requirements, want %d", len(reqs), tt.count)
			}
			if got := ids(reqs, func(r Requirement) bool { return r.Kind == KindTest }); !slices.Equal(got, tt.tests) {
				t.Errorf("tests %v, want %v", got, tt.tests)
			}
			for id, kinds := range tt.evidence {
				if r := find(t, reqs, id); !slices.Equal(r.EvidenceKinds, kinds) {
					t.Errorf("%s asks for %v, want %v", id, r.EvidenceKinds, kinds)
				}
			}
			for id, p := range tt.party {
				if r := find(t, reqs, id); r.Party != p {
					t.Errorf("%s: party %s, want %s", id, r.Party, p)
				}
			}
			if got := len(ids(reqs, func(r Requirement) bool { return r.Kind == KindLink })) == 1; got != tt.hasLink {
				t.Errorf("link requirement present = %v, want %v", got, tt.hasLink)
			}
			for _, id := range tt.notPresent {
				for _, r := range reqs {
					if strings.HasPrefix(r.ID, id) {
						t.Errorf("unexpected requirement %s", r.ID)
					}
				}
			}
		})
	}
}

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func outcomeOf(sts []Status, id string) Status {
	for _, s := range sts {
		if s.ID == id {
			return s
		}
	}
	return Status{}
}

func TestEvaluateTestsLinksEvidenceAndWaivers(t *testing.T) {
	cfg := load(t, hybrid+`
requirement "ledger-backup-restore" {
  component   = "ledger"
  category    = "reliability"
  kind        = "evidence"
  evidence_kind = "restore_report"
  description = "A restore from backup was rehearsed."
}
waiver "perf" {
  requirement = "ledger/performance/test"
  reason      = "load tests next quarter"
  approver    = "Li Wei"
  expires     = "2026-12-31"
}
waiver "old" {
  requirement = "mobile/performance/test"
  reason      = "was fine last year"
  approver    = "Li Wei"
  expires     = "2026-01-31"
}
`)
	reqs, waivers, err := Requirements(cfg)
	if err != nil {
		t.Fatal(err)
	}
	suites := []SuiteOutcome{
		{Name: "ledger-func", Kind: "functional", Components: []string{"ledger"}, Status: result.Passed},
		{Name: "mobile-func", Kind: "functional", Components: []string{"mobile"}, Status: result.Failed},
		{Name: "e2e", Kind: "functional", Components: []string{"mobile", "ledger"}, Status: result.Passed},
		{Name: "ledger-sec", Kind: "security", Components: []string{"ledger"}, Status: ""},
	}
	ev := []EvidenceItem{
		{Name: "design", Kind: "design_doc", Components: []string{"ledger"}, State: Present},
		{Name: "plan", Kind: "test_plan", Components: []string{"ledger"}, Categories: []string{"functional"}, State: Expired, Message: "valid until 2026-01-01"},
		{Name: "restore", Kind: "restore_report", Components: []string{"ledger"}, State: Present},
	}
	sts := Evaluate(cfg.Deployment, reqs, waivers, suites, ev, now)
	want := map[string]string{
		"ledger/functional/test":                     Met,
		"mobile/functional/test":                     Failed,
		"hybrid/links":                               Met,
		"ledger/security/test":                       NotMet,
		"ledger/performance/test":                    WaivedOut,
		"mobile/performance/test":                    NotMet,
		"ledger/functional/iaas/evidence:design_doc": Met,
		"ledger/functional/iaas/evidence:test_plan":  NotMet,
		"ledger/reliability/iaas/evidence:test_plan": NotMet,
		"ledger-backup-restore":                      Met,
	}
	for id, w := range want {
		if got := outcomeOf(sts, id); got.Outcome != w {
			t.Errorf("%s = %s (%s), want %s", id, got.Outcome, got.Why, w)
		}
	}
	if why := outcomeOf(sts, "mobile/performance/test").Why; !strings.Contains(why, `Waiver "old" expired on 2026-01-31`) {
		t.Errorf("an expired waiver does not say so: %q", why)
	}
	if why := outcomeOf(sts, "ledger/functional/iaas/evidence:test_plan").Why; !strings.Contains(why, "expired") {
		t.Errorf("expired evidence does not say so: %q", why)
	}
	if why := outcomeOf(sts, "ledger/security/test").Why; !strings.Contains(why, `"ledger-sec" did not run`) {
		t.Errorf("a suite that did not run: %q", why)
	}
	if Verdict(sts) != Failed {
		t.Errorf("verdict %q, want failed", Verdict(sts))
	}
}

func TestAWaiverOfAnUnknownRequirementIsRefused(t *testing.T) {
	cfg := load(t, private+`
waiver "w" {
  requirement = "ledger/functional/tset"
  reason      = "x"
  approver    = "y"
  expires     = "2027-01-01"
}`)
	if _, _, err := Requirements(cfg); err == nil || !strings.Contains(err.Error(), "d.hcl:8") {
		t.Fatalf("err = %v, want one naming the waiver's file and line", err)
	}
}

func TestBadRequirementAndWaiverBlocks(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "d.hcl"), []byte(private+`
requirement "r" {
  component   = "ledgr"
  category    = "speed"
  kind        = "evidence"
  description = "x"
}
waiver "w" {
  requirement = "ledger/functional/test"
  reason      = ""
  approver    = "y"
  expires     = "next year"
}`), 0o644)
	_, _, diags := config.Load(dir, config.Options{Blocks: []config.BlockKind{RequirementBlock, WaiverBlock}})
	var all []string
	for _, d := range diags {
		all = append(all, d.Summary+": "+d.Detail)
	}
	msg := strings.Join(all, "\n")
	for _, w := range []string{`no component "ledgr"`, `"speed"`, `needs the attribute "evidence_kind"`, "A waiver needs a reason", "YYYY-MM-DD"} {
		if !strings.Contains(msg, w) {
			t.Errorf("diagnostics lack %q: %s", w, msg)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	WriteTable(&b, Matrix(load(t, hybrid).Deployment), nil)
	for _, w := range []string{"COMPONENT", "ledger/security/iaas/evidence:hardening_guide", "certification or test_report", "an end-to-end suite across private and community"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("table lacks %q", w)
		}
	}
}
