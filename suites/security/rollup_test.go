package security

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/report"
	"github.com/cloudtest/cloudtest/internal/result"
)

// renderedChecks renders the report of a security run and returns the
// status report.json gives the suite and its "checks" case, and the files.
func renderedChecks(t *testing.T, r ran) (suite, checks result.Status, files map[string]string) {
	t.Helper()
	if _, err := report.Render(r.dir); err != nil {
		t.Fatal(err)
	}
	files = map[string]string{}
	for _, f := range []string{"report.json", "report.html", "junit.xml", "summary.md"} {
		b, err := os.ReadFile(filepath.Join(r.dir, f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = string(b)
	}
	var rep struct {
		Suites []struct {
			Status result.Status `json:"status"`
			Cases  []struct {
				Name   string        `json:"name"`
				Status result.Status `json:"status"`
			} `json:"cases"`
		} `json:"suites"`
	}
	if err := json.Unmarshal([]byte(files["report.json"]), &rep); err != nil || len(rep.Suites) != 1 {
		t.Fatalf("report.json: %v, %d suites", err, len(rep.Suites))
	}
	for _, c := range rep.Suites[0].Cases {
		if c.Name == "checks" {
			checks = c.Status
		}
	}
	return rep.Suites[0].Status, checks, files
}

// htmlCaseStatus is the status the HTML report shows on the checks case.
var htmlCaseStatus = regexp.MustCompile(`<summary><span class="st [a-z]+">([a-z]+)</span> case “checks”`)

func TestTheChecksCaseFailsWithItsSuite(t *testing.T) {
	t.Run("open findings on the planted bank fail the checks case, and no negative control is spoken of", func(t *testing.T) {
		r := runSuite(t, plantedSuite(""), nil)
		suite, checks, files := renderedChecks(t, r)
		if suite != result.Failed || checks != result.Failed {
			t.Fatalf("report.json: suite %s, case checks %s; want both failed", suite, checks)
		}
		if m := htmlCaseStatus.FindStringSubmatch(files["report.html"]); m == nil || m[1] != "failed" {
			t.Errorf("report.html shows the checks case as %v, want failed", m)
		}
		for f, body := range files {
			if strings.Contains(body, "negative control") {
				t.Errorf("%s speaks of a negative control for a suite that is none", f)
			}
		}
		if !strings.Contains(files["report.html"], "findings</strong>: ") || !strings.Contains(files["report.html"], " waived.</p>") {
			t.Errorf("report.html lacks the tally of findings")
		}
	})

	t.Run("a planted finding not found fails the checks case and a step of it, in every output", func(t *testing.T) {
		ids := strings.Replace(plantedIDs, `]`, `, "auth/bola"]`, 1)
		r := runSuite(t, plantedSuite("expect_findings = "+ids), nil)
		suite, checks, files := renderedChecks(t, r)
		if suite != result.Failed || checks != result.Failed {
			t.Fatalf("report.json: suite %s, case checks %s; want both failed", suite, checks)
		}
		if m := htmlCaseStatus.FindStringSubmatch(files["report.html"]); m == nil || m[1] != "failed" {
			t.Errorf("report.html shows the checks case as %v, want failed", m)
		}
		if !strings.Contains(files["report.html"], "0 waived, 6 expected (planted in this negative control).") {
			t.Errorf("report.html lacks the negative control's tally")
		}
		var junit struct {
			Suites []struct {
				Cases []struct {
					Name    string    `xml:"name,attr"`
					Failure *struct{} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal([]byte(files["junit.xml"]), &junit); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, s := range junit.Suites {
			for _, c := range s.Cases {
				if strings.Contains(c.Name, "expected findings") && c.Failure != nil {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("junit.xml has no failed testcase for the planted finding not found:\n%s", files["junit.xml"])
		}
		if !strings.Contains(files["summary.md"], "expected findings (failed)") || !strings.Contains(files["summary.md"], "auth/bola") {
			t.Errorf("summary.md does not list the planted finding not found:\n%s", files["summary.md"])
		}
	})

	t.Run("a negative control that finds exactly what was planted passes, checks case too", func(t *testing.T) {
		r := runSuite(t, plantedSuite("expect_findings = "+plantedIDs), nil)
		suite, checks, _ := renderedChecks(t, r)
		if suite != result.Passed || checks != result.Passed {
			t.Fatalf("report.json: suite %s, case checks %s; want both passed", suite, checks)
		}
	})
}
