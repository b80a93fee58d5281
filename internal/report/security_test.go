package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
)

func TestTheSecuritySectionGroupsFindingsAndEscapesEvidence(t *testing.T) {
	sum := result.SecuritySummary{
		Scope: []string{"127.0.0.1", "10.0.0.0/8"}, Requests: 42, Refused: 1,
		Checks: []result.CheckRun{{Name: "injection", Findings: 2}, {Name: "headers", Findings: 1}, {Name: "tls", Error: "dial <b>failed</b>"}},
		Findings: []result.Finding{
			{ID: "injection/reflected-xss", Check: "injection", Severity: "high", Title: "Reflected XSS", Where: "GET /search (query parameter \"q\")",
				Reference: "CWE-79", Status: "open", Evidence: &result.Exchange{Protocol: "http", Method: "GET", URL: "http://127.0.0.1/search?q=%3Cscript%3E",
					Status: 200, ResponseBody: `<html>Results for <script>alert("ct123")</script></html>`}},
			{ID: "injection/sql-error", Check: "injection", Severity: "high", Title: "SQL error", Where: "/item", Status: "expected"},
			{ID: "headers/csp-missing", Check: "headers", Severity: "medium", Title: "No CSP", Where: "/", Status: "waived", Waiver: "headers/csp-missing (Chen Jing, until 2027-03-31)"},
		},
		Expected: []string{"injection/sql-error"},
		Missing:  []string{"auth/bola"},
		Waivers:  []result.WaiverState{{Finding: "headers/csp-missing", Reason: "legacy <iframe> pages", Approver: "Chen Jing", Expires: "2027-03-31", Matched: 1}},
		Drills: []result.DrillRun{{Name: "edge", Coverage: 0.5, MinCoverage: 1, Attacks: []result.AttackRun{
			{Name: "stuffing<x>", MITRE: "T1110.004", Technique: "credential_stuffing", Outcome: "detected", Channel: "log", StartMS: 0, SentMS: 30, DetectMS: 25, TimeToDetectMS: 25, WithinMS: 5000, Requests: 6, Evidence: `{"event":"<alert>"}`},
			{Name: "scan", Technique: "scanning", Outcome: "missed", StartMS: 30, SentMS: 40, WithinMS: 400, Requests: 3, Message: "missed: no webhook"},
		}}},
	}
	data, _ := json.Marshal(sum)
	run := result.Run{ID: "s", Project: "bank", Started: t0, Finished: t0.Add(time.Second), Suites: []result.PlannedSuite{{Name: "edge", Kind: "security"}}}
	dir := writeRunDir(t, run, []result.Result{{Time: t0, Suite: "edge", Kind: "security", Level: result.LevelSuite, Status: result.Failed, Data: data}}, "")
	if _, err := Render(dir); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{
		"<code>127.0.0.1, 10.0.0.0/8</code>", "42 requests sent", "1 refused",
		"3 findings</strong>: 1 open, 1 waived, 1 expected",
		`high (2)</h4>`, `medium (1)</h4>`,
		"&lt;script&gt;alert(&#34;ct123&#34;)&lt;/script&gt;", "dial &lt;b&gt;failed&lt;/b&gt;",
		"Planted weaknesses not found (a check has gone blind): auth/bola",
		"legacy &lt;iframe&gt; pages", "Chen Jing, until 2027-03-31",
		"detection coverage 50% (required 100%)", "<code>T1110.004</code>", "25.0 ms",
		`aria-label="drill timeline"`, "stuffing&lt;x&gt;", "stroke-dasharray",
	} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>alert", "<alert>", "<iframe>", "<b>failed", "stuffing<x>"} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("report.html contains unescaped %q", bad)
		}
	}
	// high comes before medium
	if bytes.Index(html, []byte("sev-high")) > bytes.Index(html, []byte("sev-medium")) {
		t.Error("findings are not ordered by severity")
	}
}
