package reliability

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
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
