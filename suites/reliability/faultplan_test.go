package reliability

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/fault"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
)

// after and duration are each in range, but their sum is not: before, the
// schedule wrapped around, the fault was never injected and the suite
// passed after 10 s.
func TestAFaultWhoseEndOverflowsIsRefusedOnItsLine(t *testing.T) {
	t.Parallel()
	for name, window := range map[string]string{"no duration": "", "a duration": `duration = "10s"`} {
		dir := t.TempDir()
		src := bankTarget(t, t.TempDir()) + `
reliability "r" {
  target = target.bank
  ` + window + `
  probe {
    http { path = "/" }
  }
  fault "forever" {
    action   = "pod-failure"
    after    = "100000d"
    duration = "100000d"
  }
}
`
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
		line := strings.Count(src[:strings.Index(src, `fault "forever"`)], "\n") + 1
		found := false
		for _, d := range diags {
			if d.Summary == "Fault ends too late" && d.Subject != nil && d.Subject.Start.Line == line {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: diagnostics %q, want \"Fault ends too late\" on line %d", name, diags.Error(), line)
		}
	}
}

// A fault planned but never injected (the window ended first) means the
// experiment did not test what the suite says: it is an error naming the
// fault, not a pass.
func TestAFaultThatWasNeverInjectedDoesNotPass(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := bankTarget(t, t.TempDir()) + `
reliability "late" {
  target = target.bank
  probe {
    every = "100ms"
    http { path = "/healthz" }
  }
  fault "never" {
    action   = "pod-failure"
    after    = "1s"
    duration = "1s"
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	// The window ends before the fault is due: what a schedule that
	// wrapped around (or any other slip) would do.
	s := cfg.Suites[0].(*Suite)
	s.Faults[0].After = time.Hour
	s.Window = 700 * time.Millisecond
	plan, err := runner.NewPlan(cfg, runner.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := runner.Run(context.Background(), plan, runner.Options{OutDir: t.TempDir(), RunID: "rel-test"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(sum.Dir, "results.jsonl"))
	var suite string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"level":"suite"`) {
			suite = line
		}
	}
	if !strings.Contains(suite, `"status":"`+string(result.Errored)+`"`) || !strings.Contains(suite, `fault \"never\" was planned at 1h0m0s but never injected`) {
		t.Fatalf("suite result %s, want errored naming the fault", suite)
	}
}

// A fault that took hold late (a loaded machine, a Chaos Mesh that applied
// it after a while) stays for its whole duration from then: before, its
// removal kept the planned time, and a 1 s freeze injected 0.4 s late
// lasted 0.6 s (and measured so). One injected on time keeps its plan, and
// one removed before another is injected keeps the order of the schedule.
func TestAFaultInjectedLateStaysForItsWholeDuration(t *testing.T) {
	freeze := &fault.Spec{Name: "freeze", Action: "pod-failure", After: time.Second, Duration: time.Second}
	delay := &fault.Spec{Name: "delay", Action: "network-delay", After: 1500 * time.Millisecond, Duration: 3 * time.Second}
	kill := &fault.Spec{Name: "kill", Action: "pod-kill", After: 1200 * time.Millisecond}
	s := &Suite{Faults: []*fault.Spec{freeze, delay, kill}}
	at := func(events []faultEvent) string {
		var b strings.Builder
		for _, e := range events {
			verb := "-"
			if e.inject {
				verb = "+"
			}
			fmt.Fprintf(&b, "%s%s@%v ", verb, s.Faults[e.i].Name, e.at)
		}
		return strings.TrimSpace(b.String())
	}
	events := s.faultEvents()
	if got, want := at(events), "+freeze@1s +kill@1.2s +delay@1.5s -freeze@2s -delay@4.5s"; got != want {
		t.Fatalf("schedule %s, want %s", got, want)
	}
	for _, c := range []struct {
		name       string
		injectedMS float64
		injected   bool
		want       string
	}{
		{"on time", 1000, true, "+kill@1.2s +delay@1.5s -freeze@2s -delay@4.5s"},
		{"0.4 s late", 1400, true, "+kill@1.2s +delay@1.5s -freeze@2.4s -delay@4.5s"},
		{"late past the other removal", 4000, true, "+kill@1.2s +delay@1.5s -delay@4.5s -freeze@5s"},
		{"never injected", 1400, false, "+kill@1.2s +delay@1.5s -freeze@2s -delay@4.5s"},
	} {
		x := &experiment{suite: s, exp: &result.Experiment{Faults: make([]result.FaultRecord, 3)}}
		x.exp.Faults[0].Injected, x.exp.Faults[0].InjectedMS = c.injected, c.injectedMS
		if got := at(x.fromInjection(slices.Clone(events[1:]), 0)); got != c.want {
			t.Errorf("%s: schedule %s, want %s", c.name, got, c.want)
		}
	}
	// A one-shot fault has no removal to move.
	x := &experiment{suite: s, exp: &result.Experiment{Faults: make([]result.FaultRecord, 3)}}
	x.exp.Faults[2].Injected, x.exp.Faults[2].InjectedMS = true, 1900
	if got, want := at(x.fromInjection(slices.Clone(events[2:]), 2)), "+delay@1.5s -freeze@2s -delay@4.5s"; got != want {
		t.Errorf("after a late kill: schedule %s, want %s", got, want)
	}
}
