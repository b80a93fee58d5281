package functional

import (
	"context"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/testhttpbin"
)

// examples/httpbin, which shows every HTTP feature of a step, passes
// against a real go-httpbin.
func TestTheHTTPBinExamplePasses(t *testing.T) {
	base := testhttpbin.Start(t)
	cfg, _, diags := config.Load("../../examples/httpbin", config.Options{Kinds: []config.SuiteKind{Kind}, Vars: []string{"httpbin_url=" + base}})
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	plan, err := runner.NewPlan(cfg, runner.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := runner.Run(ctx, plan, runner.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := httpbinRun{results: readResults(t, sum.Dir), dir: sum.Dir}
	r.passed(t)
	steps := 0
	for _, res := range r.results {
		if res.Level == result.LevelStep {
			steps++
		}
	}
	if steps < 10 {
		t.Errorf("%d steps ran: %s", steps, outcome(r.results))
	}
	grepRunDir(t, sum.Dir, "Op3n-Sesame", "branch-042-7f3a9c")
}
