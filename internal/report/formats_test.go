package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/schemas"
)

// securityRunDir is a run of one security suite with an open, a waived and
// an expected finding, each check a step at its HCL line, and a deployment.
func securityRunDir(t *testing.T) string {
	t.Helper()
	sum := result.SecuritySummary{
		Scope: []string{"127.0.0.1"}, Requests: 12,
		Checks: []result.CheckRun{{Name: "injection", Findings: 2}, {Name: "headers", Findings: 1}},
		Findings: []result.Finding{
			{ID: "injection/reflected-xss", Check: "injection", Severity: "high", Title: "Reflected XSS", Where: "GET /search (query parameter \"q\")",
				Detail: "The parameter is reflected\nunescaped.", Reference: "CWE-79", Status: "open",
				Evidence: &result.Exchange{Protocol: "http", Method: "GET", URL: "http://127.0.0.1/search?q=x", Status: 200,
					RequestHeaders: map[string]string{"Authorization": "Bearer s3cr3t-token-in-evidence"}, ResponseBody: `<script>alert("ct123")</script>`}},
			{ID: "injection/sql-error", Check: "injection", Severity: "critical", Title: "SQL error", Where: "/item", Status: "expected"},
			{ID: "headers/csp-missing", Check: "headers", Severity: "medium", Title: "No CSP", Where: "/", Status: "waived", Waiver: "headers/csp-missing (Chen Jing, until 2027-03-31)"},
		},
		Expected: []string{"injection/sql-error"},
		Waivers:  []result.WaiverState{{Finding: "headers/csp-missing", Reason: "legacy pages", Approver: "Chen Jing", Expires: "2027-03-31", Matched: 1}},
	}
	data, _ := json.Marshal(sum)
	run := result.Run{ID: "sec-run", Project: "bank", Version: "test", Started: t0, Finished: t0.Add(time.Second),
		Suites: []result.PlannedSuite{{Name: "edge", Kind: "security", Component: "ledger", Location: "suites/security.hcl:3"}}}
	stepAt := func(name string, line string, st result.Status) result.Result {
		return result.Result{Time: t0, Suite: "edge", Kind: "security", Component: "ledger", Level: result.LevelStep, Case: "checks",
			Step: name, Phase: "test", Status: st, Location: "suites/security.hcl:" + line}
	}
	dir := writeRunDir(t, run, []result.Result{
		stepAt("injection", "12", result.Failed), stepAt("headers", "20", result.Passed),
		{Time: t0, Suite: "edge", Kind: "security", Component: "ledger", Level: result.LevelSuite, Status: result.Failed,
			Message: "1 open finding", Location: "suites/security.hcl:3", Data: data},
	}, "")
	in := acceptanceInputs()
	if err := in.Write(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// formatDirs are every fixture run directory the renderers see.
func formatDirs(t *testing.T) map[string]string {
	dirs := map[string]string{}
	for name, d := range runDirs() {
		dirs[name] = writeRunDir(t, d.run, d.results, d.tail)
	}
	d := runDirs()["accepted"]
	d.run.Suites = []result.PlannedSuite{{Name: "login", Kind: "functional", Component: "ledger"}}
	for i := range d.results {
		d.results[i].Component = "ledger"
	}
	dirs["acceptance"] = writeRunDir(t, d.run, d.results, "")
	if err := acceptanceInputs().Write(dirs["acceptance"]); err != nil {
		t.Fatal(err)
	}
	dirs["security"] = securityRunDir(t)
	return dirs
}

type oscalCheck struct {
	AR struct {
		Results []struct {
			Observations []struct {
				UUID     string `json:"uuid"`
				Title    string `json:"title"`
				Methods  []string
				Subjects []struct {
					Title string `json:"title"`
				} `json:"subjects"`
			} `json:"observations"`
			Findings []struct {
				Title  string `json:"title"`
				Target struct {
					TargetID string `json:"target-id"`
					Status   struct{ State string }
				} `json:"target"`
				Related []struct {
					UUID string `json:"observation-uuid"`
				} `json:"related-observations"`
			} `json:"findings"`
		} `json:"results"`
	} `json:"assessment-results"`
}

func TestOSCALValidatesAndNamesWhatFailed(t *testing.T) {
	want := map[string][]string{ // finding target ids each run must have
		"accepted":    nil,
		"interrupted": nil,
		"rejected":    {"suite-pay"},
		"acceptance":  {"ledger-reliability-test", "ledger-functional-iaas-evidence-test_plan"},
		"security":    {"suite-edge", "injection-reflected-xss"},
	}
	for name, dir := range formatDirs(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := Render(dir); err != nil {
				t.Fatal(err)
			}
			doc, err := os.ReadFile(filepath.Join(dir, OSCALFile))
			if err != nil {
				t.Fatal(err)
			}
			schemas.Validate(t, schemas.OSCALAssessmentResults, doc)
			var got oscalCheck
			if err := json.Unmarshal(doc, &got); err != nil || len(got.AR.Results) != 1 {
				t.Fatalf("want one result: %v", err)
			}
			res := got.AR.Results[0]
			obs := map[string]bool{}
			for _, o := range res.Observations {
				obs[o.UUID] = true
			}
			var targets []string
			for _, f := range res.Findings {
				targets = append(targets, f.Target.TargetID)
				if f.Target.Status.State != "not-satisfied" {
					t.Errorf("finding %q is %s", f.Title, f.Target.Status.State)
				}
				for _, r := range f.Related {
					if !obs[r.UUID] {
						t.Errorf("finding %q points at observation %s, which the result does not hold", f.Title, r.UUID)
					}
				}
			}
			for _, w := range want[name] {
				if !strings.Contains(strings.Join(targets, " "), w) {
					t.Errorf("no finding targets %q; findings target %v", w, targets)
				}
			}
			if len(want[name]) == 0 && len(targets) > 0 {
				t.Errorf("a run without failures has findings %v", targets)
			}
		})
	}
}

func TestOSCALHasSubjectsEvidenceAndNoExchange(t *testing.T) {
	dir := securityRunDir(t)
	if _, err := Render(dir); err != nil {
		t.Fatal(err)
	}
	doc, _ := os.ReadFile(filepath.Join(dir, OSCALFile))
	var got oscalCheck
	json.Unmarshal(doc, &got)
	var suiteSubject, examined, findingObs bool
	for _, o := range got.AR.Results[0].Observations {
		switch {
		case o.Title == "security suite edge":
			suiteSubject = len(o.Subjects) == 1 && o.Subjects[0].Title == "ledger"
		case strings.HasPrefix(o.Title, "evidence plan"):
			examined = len(o.Methods) == 1 && o.Methods[0] == "EXAMINE"
		case o.Title == "Reflected XSS":
			findingObs = true
		}
	}
	if !suiteSubject || !examined || !findingObs {
		t.Errorf("suite observation with the component as subject %v, evidence examined %v, finding observed %v:\n%s", suiteSubject, examined, findingObs, doc)
	}
	for _, secret := range []string{"s3cr3t-token-in-evidence", "ct123"} {
		if bytes.Contains(doc, []byte(secret)) {
			t.Errorf("%s carries %q from a finding's evidence", OSCALFile, secret)
		}
	}
}

// TestTheFormatsAreAPureFunctionOfTheRunDirectory: rendering again, as
// `cloudtest report DIR` does, writes the same bytes.
func TestTheFormatsAreAPureFunctionOfTheRunDirectory(t *testing.T) {
	dir := securityRunDir(t)
	var first [][]byte
	for round := range 2 {
		if _, err := Render(dir); err != nil {
			t.Fatal(err)
		}
		for i, f := range []string{OSCALFile, SARIFFile} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if round == 0 {
				first = append(first, b)
			} else if !bytes.Equal(first[i], b) {
				t.Errorf("%s changed when rendered again", f)
			}
		}
	}
}

type sarifCheck struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Rules []struct {
					ID         string         `json:"id"`
					Properties map[string]any `json:"properties"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex int    `json:"ruleIndex"`
			Level     string `json:"level"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI       string `json:"uri"`
						URIBaseID string `json:"uriBaseId"`
					} `json:"artifactLocation"`
					Region struct {
						StartLine int `json:"startLine"`
					} `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
			Suppressions []struct {
				Kind string `json:"kind"`
			} `json:"suppressions"`
		} `json:"results"`
	} `json:"runs"`
}

func TestSARIFValidatesEveryRun(t *testing.T) {
	for name, dir := range formatDirs(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := Render(dir); err != nil {
				t.Fatal(err)
			}
			doc, err := os.ReadFile(filepath.Join(dir, SARIFFile))
			if err != nil {
				t.Fatal(err)
			}
			schemas.Validate(t, schemas.SARIF, doc)
		})
	}
}

func TestSARIFPointsAtTheCheckLineWithLevelsAndSuppressions(t *testing.T) {
	dir := securityRunDir(t)
	if _, err := Render(dir); err != nil {
		t.Fatal(err)
	}
	doc, _ := os.ReadFile(filepath.Join(dir, SARIFFile))
	var got sarifCheck
	if err := json.Unmarshal(doc, &got); err != nil || len(got.Runs) != 1 {
		t.Fatalf("want one run: %v", err)
	}
	run := got.Runs[0]
	type want struct {
		level, uri string
		line       int
		suppressed string
	}
	wants := map[string]want{
		"injection/reflected-xss": {"error", "suites/security.hcl", 12, ""},
		"injection/sql-error":     {"error", "suites/security.hcl", 12, "inSource"},
		"headers/csp-missing":     {"warning", "suites/security.hcl", 20, "external"},
	}
	seen := map[string]bool{}
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s has ruleIndex %d, which is rule %s", r.RuleID, r.RuleIndex, run.Tool.Driver.Rules[r.RuleIndex].ID)
		}
		w, ok := wants[r.RuleID]
		if !ok {
			if !strings.HasPrefix(r.RuleID, "ledger/security/") {
				t.Errorf("unexpected result %s", r.RuleID)
			}
			continue
		}
		seen[r.RuleID] = true
		if len(r.Locations) != 1 {
			t.Fatalf("%s has %d locations", r.RuleID, len(r.Locations))
		}
		loc := r.Locations[0].PhysicalLocation
		sup := ""
		if len(r.Suppressions) == 1 {
			sup = r.Suppressions[0].Kind
		}
		if r.Level != w.level || loc.ArtifactLocation.URI != w.uri || loc.ArtifactLocation.URIBaseID != "%SRCROOT%" || loc.Region.StartLine != w.line || sup != w.suppressed {
			t.Errorf("%s: level %s at %s:%d (base %s), suppression %q; want %+v", r.RuleID, r.Level, loc.ArtifactLocation.URI, loc.Region.StartLine, loc.ArtifactLocation.URIBaseID, sup, w)
		}
	}
	if len(seen) != len(wants) {
		t.Errorf("findings in SARIF: %v, want %d", seen, len(wants))
	}
	var reqs int
	for _, r := range run.Results {
		if strings.HasPrefix(r.RuleID, "ledger/security/") {
			reqs++
		}
	}
	if reqs == 0 {
		t.Error("the security requirements not met are not in the SARIF file")
	}
	for _, r := range run.Tool.Driver.Rules {
		if r.ID == "injection/reflected-xss" && r.Properties["security-severity"] != "8.0" {
			t.Errorf("a high finding's rule has security-severity %v", r.Properties["security-severity"])
		}
	}
	for _, secret := range []string{"s3cr3t-token-in-evidence", "ct123"} {
		if bytes.Contains(doc, []byte(secret)) {
			t.Errorf("%s carries %q from a finding's evidence", SARIFFile, secret)
		}
	}
}
