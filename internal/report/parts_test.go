package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
)

func TestASuiteThatNeverFinishedIsPutTogetherFromItsParts(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	part := func(p result.ExperimentPart) result.Result {
		b, _ := json.Marshal(p)
		return result.Result{Time: t0, Suite: "kill", Kind: "reliability", Level: result.LevelPart, Data: b}
	}
	head := &result.Experiment{Target: "bank", WindowS: 60, ProbeEveryMS: 100, RecoveredAfter: 3,
		Faults: []result.FaultRecord{{Name: "freeze", Action: "pod-failure", Location: "rel.hcl:9"}}}
	results := []result.Result{
		{Time: t0, Suite: "kill", Kind: "reliability", Level: result.LevelStep, Case: "setup", Step: "login", Status: result.Passed},
		part(result.ExperimentPart{Experiment: head, Faults: head.Faults}),
		part(result.ExperimentPart{AtS: 1, Probes: []result.Probe{{DueMS: 0, AtMS: 2, OK: true, LatencyMS: 2}, {DueMS: 100, AtMS: 101, OK: true, LatencyMS: 1}},
			Writes: []result.LedgerWrite{{Seq: 1, ID: "7", AckedMS: 3}}, Written: 1, ProbesOK: 2, Availability: 1, Recovered: true,
			Faults: []result.FaultRecord{{Name: "freeze", Action: "pod-failure"}}}),
		part(result.ExperimentPart{AtS: 2, Probes: []result.Probe{{DueMS: 300, AtMS: 600, OK: false, LatencyMS: 300, Error: "no answer within 300ms"}, {DueMS: 200, AtMS: 201, OK: true, LatencyMS: 1}},
			Written: 2, ProbesOK: 3, ProbesFailed: 1, OutageS: 0.3, Availability: 0.85, Recovered: true,
			Faults: []result.FaultRecord{{Name: "freeze", Action: "pod-failure", Injected: true, InjectedMS: 250, Outage: true, OutageStartMS: 300, Recovered: true}}}),
	}
	// kill -9: run.json was never finished, and no suite record came.
	run := result.Run{ID: "r", Project: "bank", Started: t0, Suites: []result.PlannedSuite{{Name: "kill", Kind: "reliability"}}}
	m, err := Load(writeRunDir(t, run, results, ""))
	if err != nil {
		t.Fatal(err)
	}
	s := m.Suites[0]
	if m.Verdict != Incomplete || !s.Ran || s.Status != result.Skipped || !strings.Contains(s.Message, "the run ended 2.0 s into the experiment") {
		t.Fatalf("verdict %s; suite %+v", m.Verdict, s)
	}
	var exp result.Experiment
	json.Unmarshal(s.Data, &exp)
	var due []float64
	for _, p := range exp.Probes {
		due = append(due, p.DueMS)
	}
	if !exp.Unfinished || len(due) != 4 || due[0] != 0 || due[2] != 200 || due[3] != 300 || exp.ProbesFailed != 1 || exp.OutageS != 0.3 || exp.WindowS != 2 {
		t.Fatalf("experiment %+v", exp)
	}
	if f := exp.Faults[0]; !f.Injected || f.Location != "rel.hcl:9" || exp.Ledger == nil || exp.Ledger.Written != 2 || exp.Ledger.Acknowledged != 1 {
		t.Fatalf("fault %+v, ledger %+v", f, exp.Ledger)
	}
	// The freeze was still in place when the run ended: not recovered,
	// whatever the last part said, and neither its RTO nor the RPO (the
	// writes were never read back) is given as a figure.
	if f := exp.Faults[0]; f.Recovered || exp.Recovered || !strings.Contains(s.Message, "still in place") {
		t.Fatalf("a fault left in place: fault %+v, experiment recovered %v, %q", f, exp.Recovered, s.Message)
	}
	html := string(reliabilitySection(s))
	if !strings.Contains(html, "not recovered") || !strings.Contains(html, "RPO not measured") || strings.Contains(html, "RPO 0.000") {
		t.Fatalf("the section shows figures that were not measured:\n%s", html)
	}

	// When the suite did finish, its own record stands and the parts are
	// not used.
	final, _ := json.Marshal(result.Experiment{Target: "bank", WindowS: 60})
	results = append(results, result.Result{Time: t0, Suite: "kill", Kind: "reliability", Level: result.LevelSuite, Status: result.Passed, Data: final})
	run.Finished = t0.Add(time.Minute)
	m, err = Load(writeRunDir(t, run, results, ""))
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Suites[0]; s.Status != result.Passed || string(s.Data) != string(final) || s.Steps.Total() != 1 {
		t.Fatalf("suite %+v", s)
	}
}
