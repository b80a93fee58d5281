package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/deploy"
	"github.com/cloudtest/cloudtest/internal/result"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)

func planned(names ...string) []result.PlannedSuite {
	var out []result.PlannedSuite
	for _, n := range names {
		out = append(out, result.PlannedSuite{Name: n, Kind: "functional", Component: "mobile-channel", Target: "demo", Location: "suites.hcl:1"})
	}
	return out
}

func step(suite, cs, name string, st result.Status, msg string) result.Result {
	return result.Result{Time: t0, Suite: suite, Kind: "functional", Component: "mobile-channel", Level: result.LevelStep,
		Case: cs, Step: name, Phase: "test", Status: st, Message: msg, DurationMS: 12.5, Location: "suites.hcl:7"}
}

func level(suite string, l result.Level, st result.Status, msg string) result.Result {
	r := result.Result{Time: t0, Suite: suite, Kind: "functional", Component: "mobile-channel", Level: l, Status: st, Message: msg, DurationMS: 40}
	if l == result.LevelCase {
		r.Case = suite
	}
	return r
}

const gomegaMsg = `expect.status at suites.hcl:9:
Expected
    <int>: 500
to equal
    <int>: 200`

// runDirs are the run directories the tests render, by name.
func runDirs() map[string]struct {
	run     result.Run
	results []result.Result
	tail    string
} {
	failing := step("pay", "pay", "transfer", result.Failed, gomegaMsg)
	failing.Checks = []result.Check{{Name: "expect.status", Status: result.Failed, Message: "Expected\n    <int>: 500\nto equal\n    <int>: 200"}}
	failing.Exchange = &result.Exchange{Protocol: "http", Method: "POST", URL: "http://127.0.0.1:8080/api/transfers",
		RequestHeaders: map[string]string{"Authorization": "[REDACTED]"}, Status: 500,
		ResponseBody: `<script>alert("pwned")</script> & "quotes" | pipes`}
	return map[string]struct {
		run     result.Run
		results []result.Result
		tail    string
	}{
		"accepted": {
			run: result.Run{ID: "run-1", Project: "bank", Source: "suites", Version: "test", Started: t0, Finished: t0.Add(2 * time.Second), Suites: planned("login")},
			results: []result.Result{
				step("login", "login", "login", result.Passed, ""),
				level("login", result.LevelCase, result.Passed, ""),
				level("login", result.LevelSuite, result.Passed, ""),
			},
		},
		"rejected": {
			run: result.Run{ID: "run-2", Project: "bank <core>", Source: "suites", Version: "test", Started: t0, Finished: t0.Add(3 * time.Second), Suites: planned("login", "pay")},
			results: []result.Result{
				step("login", "login", "login", result.Passed, ""),
				level("login", result.LevelCase, result.Passed, ""),
				level("login", result.LevelSuite, result.Passed, ""),
				step("pay", "pay", "login", result.Passed, ""),
				failing,
				step("pay", "pay", "receipt", result.Skipped, `not run: step "transfer" did not pass`),
				level("pay", result.LevelCase, result.Failed, `step "transfer" failed`),
				level("pay", result.LevelSuite, result.Failed, `case "pay": step "transfer" failed: `+gomegaMsg),
			},
		},
		"interrupted": {
			run: result.Run{ID: "run-3", Project: "bank", Source: "suites", Version: "test", Started: t0, Finished: t0.Add(time.Second), Interrupted: true, Suites: planned("login", "later")},
			results: []result.Result{
				step("login", "login", "login", result.Passed, ""),
				level("login", result.LevelCase, result.Passed, ""),
				level("login", result.LevelSuite, result.Passed, ""),
			},
			tail: `{"time":"2026-11-24T09:30:00Z","suite":"later","kind":"func`,
		},
	}
}

func writeRunDir(t *testing.T, run result.Run, results []result.Result, tail string) string {
	t.Helper()
	dir := t.TempDir()
	b, _ := json.Marshal(run)
	os.WriteFile(filepath.Join(dir, "run.json"), b, 0o644)
	var lines bytes.Buffer
	for _, r := range results {
		b, _ := json.Marshal(r)
		lines.Write(append(b, '\n'))
	}
	lines.WriteString(tail)
	os.WriteFile(filepath.Join(dir, "results.jsonl"), lines.Bytes(), 0o644)
	return dir
}

func TestVerdictsAndExitCodes(t *testing.T) {
	want := map[string]struct {
		v    Verdict
		code int
		why  string
	}{
		"accepted":    {Accepted, 0, "All 1 suites passed."},
		"rejected":    {Rejected, 1, `functional suite "pay" failed`},
		"interrupted": {Incomplete, 3, `functional suite "later" did not run.`},
	}
	for name, d := range runDirs() {
		t.Run(name, func(t *testing.T) {
			m, err := Render(writeRunDir(t, d.run, d.results, d.tail))
			if err != nil {
				t.Fatal(err)
			}
			w := want[name]
			if m.Verdict != w.v || m.Verdict.ExitCode() != w.code || !strings.Contains(strings.Join(m.Reasons, "\n"), w.why) {
				t.Fatalf("verdict %s (exit %d), reasons %q; want %s (exit %d) with %q", m.Verdict, m.Verdict.ExitCode(), m.Reasons, w.v, w.code, w.why)
			}
		})
	}
}

func TestATornLastLineIsAWarning(t *testing.T) {
	d := runDirs()["interrupted"]
	m, err := Load(writeRunDir(t, d.run, d.results, d.tail))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "line 4") {
		t.Fatalf("warnings %q, want one about line 4", m.Warnings)
	}
}

func TestRenderersMatchTheirGoldenFiles(t *testing.T) {
	for name, d := range runDirs() {
		dir := writeRunDir(t, d.run, d.results, d.tail)
		if _, err := Render(dir); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"report.html", "report.json", "junit.xml", "summary.md"} {
			got, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+"."+f)
			if *update {
				os.WriteFile(golden, got, 0o644)
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./internal/report -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s; run go test ./internal/report -update and review the diff", f, golden)
			}
		}
	}
}

func TestEverythingFromTheTargetIsEscaped(t *testing.T) {
	d := runDirs()["rejected"]
	dir := writeRunDir(t, d.run, d.results, "")
	if _, err := Render(dir); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if bytes.Contains(html, []byte(`<script>alert`)) {
		t.Fatal("report.html contains the target's <script> unescaped")
	}
	if !bytes.Contains(html, []byte(`&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;`)) {
		t.Fatal("report.html does not show the target's <script> as text")
	}
	if !bytes.Contains(html, []byte(`bank &lt;core&gt;`)) {
		t.Fatal("the project name from HCL is not escaped")
	}
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	if bytes.Contains(md, []byte("<core>")) {
		t.Fatal("summary.md lets HTML through")
	}
}

func TestJUnitParsesAndNamesTheFailure(t *testing.T) {
	d := runDirs()["rejected"]
	dir := writeRunDir(t, d.run, d.results, "")
	Render(dir)
	b, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
	var doc junitSuites
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	if doc.Tests != 4 || doc.Failures != 1 || doc.Skipped != 1 || len(doc.Suites) != 2 {
		t.Fatalf("counts tests=%d failures=%d skipped=%d suites=%d", doc.Tests, doc.Failures, doc.Skipped, len(doc.Suites))
	}
	var failure *junitProblem
	for _, c := range doc.Suites[1].Cases {
		if c.Name == "transfer" {
			failure = c.Failure
		}
	}
	if failure == nil || !strings.Contains(failure.Text, "to equal") || !strings.Contains(failure.Text, "POST http://127.0.0.1:8080/api/transfers") {
		t.Fatalf("the failure of step transfer lacks the gomega message or the request: %+v", failure)
	}
}

func acceptanceInputs() deploy.Inputs {
	comps := []deploy.ComponentInfo{{Name: "ledger", Mode: "private", Layers: []string{"iaas"}, Tier: "critical"}}
	reqs := deploy.Matrix(&config.Deployment{Mode: "private", Components: []*config.Component{{Name: "ledger", Mode: "private", Layers: []string{"iaas"}}}})
	return deploy.Inputs{
		Mode: "private", Components: comps, Requirements: reqs,
		Approvers: []config.Approver{{Name: "Li <b>Wei</b>", Role: "QA"}},
		Waivers:   []deploy.Waiver{{ID: "w", Requirement: "ledger/performance/test", Reason: "next <quarter>", Approver: "Li Wei", Expires: t0.AddDate(0, 1, 0)}},
		Evidence: []deploy.EvidenceItem{
			{Name: "design<script>x</script>", Kind: "design_doc", Components: []string{"ledger"}, State: deploy.Present, Issuer: `Acme "<img src=x onerror=alert(1)>"`, Location: "ev.hcl:1", SHA256: "ab"},
			{Name: "plan", Kind: "test_plan", Components: []string{"ledger"}, State: deploy.Tampered, Message: "the sha256 is cd, not ab", Location: "ev.hcl:9"},
		},
	}
}

func TestTheAcceptanceMatrixIsRenderedAndEscaped(t *testing.T) {
	d := runDirs()["accepted"]
	d.run.Suites = []result.PlannedSuite{{Name: "login", Kind: "functional", Component: "ledger"}}
	for i := range d.results {
		d.results[i].Component = "ledger"
	}
	dir := writeRunDir(t, d.run, d.results, "")
	if err := acceptanceInputs().Write(dir); err != nil {
		t.Fatal(err)
	}
	m, err := Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Verdict != Incomplete || m.Acceptance == nil || m.Acceptance.Outcome != deploy.NotMet {
		t.Fatalf("verdict %s, acceptance %+v", m.Verdict, m.Acceptance)
	}
	for _, f := range []string{"report.html", "report.json", "junit.xml", "summary.md"} {
		got, _ := os.ReadFile(filepath.Join(dir, f))
		golden := filepath.Join("testdata", "acceptance."+f)
		if *update {
			os.WriteFile(golden, got, 0o644)
			continue
		}
		want, _ := os.ReadFile(golden)
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s", f, golden)
		}
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, bad := range []string{"<script>x", "<img src=x", "<b>Wei", "<quarter>"} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("report.html contains %q unescaped", bad)
		}
	}
	for _, want := range []string{"Acceptance matrix", `href="#req-ledger-functional-test"`, `id="req-ledger-performance-test"`, "Sign-off", "tampered", "waived"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

func TestThePerformanceSectionShowsComparisonAndBaseline(t *testing.T) {
	ls := result.LoadSummary{Model: "open", TargetRate: 50, DurationS: 2, Target: "cloud<b>",
		Overall: result.LoadStats{Name: "overall", Requests: 100, Success: 1, TPS: 50, LatencyMS: result.Percentiles{P50: 2, P99: 5}},
		Series:  []result.SecondSample{{Second: 0, Requests: 50, P99MS: 5}, {Second: 1, Requests: 50, P99MS: 4}},
		Compare: &result.LoadSummary{Target: "legacy", Overall: result.LoadStats{Requests: 100, Success: 1, TPS: 50, LatencyMS: result.Percentiles{P50: 20, P99: 40}}},
		Baseline: &result.Regression{Run: "old-run", Explanation: "against run old-run: median latency +31.0% (allowed 10%), p = 0.0001: a regression", Regressed: true,
			BaselineTPSNote: "run old-run was measured by an older cloudtest"},
	}
	data, _ := json.Marshal(ls)
	run := result.Run{ID: "p", Project: "bank", Started: t0, Finished: t0.Add(time.Second), Suites: []result.PlannedSuite{{Name: "load", Kind: "performance"}}}
	dir := writeRunDir(t, run, []result.Result{{Time: t0, Suite: "load", Kind: "performance", Level: result.LevelSuite, Status: result.Failed, Data: data}}, "")
	if _, err := Render(dir); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{"Same load against legacy", "<td>0.10</td>", "Against the baseline run old-run", "31.0% (allowed 10%)", "<svg", "cloud&lt;b&gt;", "Baseline TPS: run old-run was measured by an older cloudtest."} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}
