package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/deploy"
	"github.com/cloudtest/cloudtest/internal/result"
)

func TestTheReliabilitySectionListsEveryLostWriteAndDrawsTheProbes(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	exp := result.Experiment{
		Target: "bank<1>", Tier: "critical", WindowS: 3, ProbeEveryMS: 100, RecoveredAfter: 3,
		Faults: []result.FaultRecord{{Name: "kill<x>", Action: "pod-kill", Kind: "PodChaos", Engine: "local",
			Injected: true, InjectedMS: 1000, Removed: true, RemovedMS: 1000, Outage: true, OutageStartMS: 1100, RecoveredMS: 1400, RTOMS: 400, Recovered: true}},
		Probes: []result.Probe{{AtMS: 900, OK: true, LatencyMS: 1}, {AtMS: 1100, OK: false, LatencyMS: 2, Error: "refused <b>"},
			{AtMS: 1400, OK: true, LatencyMS: 1}, {AtMS: 1500, OK: true, LatencyMS: 1}, {AtMS: 1600, OK: true, LatencyMS: 1}},
		ProbesOK: 4, ProbesFailed: 1, Availability: 0.9, OutageS: 0.3, RTOS: 0.4, Recovered: true,
		Ledger: &result.Ledger{Written: 30, Acknowledged: 29, Verified: 27, RPOS: 0.25,
			Lost: []result.LedgerWrite{{Seq: 8, ID: "l-0008", AckedMS: 750, Message: "404"}, {Seq: 9, ID: "l-0009", AckedMS: 800, Message: "404"}}},
		Objectives: []result.Objective{{Name: "rpo", Limit: "≤ 0s", Measured: "250ms (2 of 29 acknowledged writes lost)", Source: "tier critical", Passed: false}},
	}
	data, _ := json.Marshal(exp)
	run := result.Run{ID: "r", Project: "bank", Started: t0, Finished: t0.Add(time.Second), Suites: []result.PlannedSuite{{Name: "kill", Kind: "reliability"}}}
	dir := writeRunDir(t, run, []result.Result{{Time: t0, Suite: "kill", Kind: "reliability", Level: result.LevelSuite, Status: result.Failed, Data: data}}, "")
	if _, err := Render(dir); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{
		"2 acknowledged writes were lost", "<td>8</td><td>l-0008</td>", "<td>9</td><td>l-0009</td>",
		"RPO 0.250 s", "not met", "tier critical",
		`aria-label="probe timeline"`, "failed: refused &lt;b&gt;", "kill&lt;x&gt; recovered at 1.40 s (RTO 0.40 s)",
		"Target bank&lt;1&gt;",
	} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if bytes.Contains(html, []byte("refused <b>")) || bytes.Contains(html, []byte("kill<x>")) {
		t.Error("a value from the target reached the page unescaped")
	}
}

func TestASecuritySuiteShowsTheDrillReportsOfItsComponent(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	data, _ := json.Marshal(result.SecuritySummary{})
	run := result.Run{ID: "s", Project: "bank", Started: t0, Finished: t0.Add(time.Second),
		Suites: []result.PlannedSuite{{Name: "edge", Kind: "security", Component: "ledger"}}}
	dir := writeRunDir(t, run, []result.Result{{Time: t0, Suite: "edge", Kind: "security", Component: "ledger", Level: result.LevelSuite, Status: result.Passed, Data: data}}, "")
	in := acceptanceInputs()
	in.Evidence = append(in.Evidence,
		deploy.EvidenceItem{Name: "red-team <2026>", Kind: "drill_report", Components: []string{"ledger"}, State: deploy.Present, Issuer: "Qualified Team", ValidUntil: "2027-06-30", Location: "ev.hcl:20"},
		deploy.EvidenceItem{Name: "other-drill", Kind: "drill_report", Components: []string{"mobile"}, State: deploy.Present, Location: "ev.hcl:30"})
	if err := in.Write(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Render(dir); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{"Drill reports of qualified teams", `href="#evidence-` + anchor("red-team <2026>") + `"`, "red-team &lt;2026&gt;</a> by Qualified Team, valid until 2027-06-30"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	i := bytes.Index(html, []byte("Drill reports of qualified teams"))
	if i < 0 {
		return
	}
	list := html[i:]
	list = list[:bytes.Index(list, []byte("</ul>"))]
	if bytes.Contains(list, []byte("other-drill")) {
		t.Errorf("a drill report of another component is shown beside this suite: %s", list)
	}
}
