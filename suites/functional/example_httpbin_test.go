package functional

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/report"
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
	// data.hcl: the CSV's rows are cases in their order (run in
	// parallel), the functions hold over the answer, and a step without
	// a request compares two captures.
	got := outcome(r.results)
	for _, want := range []string{"test status[200]/code=passed", "test status[418]/code=passed", "test status[503]/code=passed",
		"test ledger-echo/echo=passed", "test two-systems/same-balance=passed"} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in %s", want, got)
		}
	}
	m, err := report.Render(sum.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// report.html shows the matrix as one table, a row a case.
	html, _ := os.ReadFile(filepath.Join(sum.Dir, "report.html"))
	_, table, ok := strings.Cut(string(html), `<table class="cases">`)
	table, _, _ = strings.Cut(table, "</table>")
	last := -1
	for _, name := range []string{"status[200]", "status[201]", "status[404]", "status[418]", "status[503]"} {
		i := strings.Index(table, "<td>"+name+"</td>")
		if !ok || i < last {
			t.Errorf("report.html's table of cases lacks %s or lists it out of order:\n%s", name, table)
		}
		last = i
	}
	for _, s := range m.Suites {
		if s.Name != "status-codes" {
			continue
		}
		var names []string
		for _, c := range s.Cases {
			names = append(names, c.Name)
		}
		if want := "status[200] status[201] status[404] status[418] status[503]"; strings.Join(names, " ") != want {
			t.Errorf("the status matrix's cases are %v, want the CSV's order %s", names, want)
		}
	}
	grepRunDir(t, sum.Dir, "Op3n-Sesame", "branch-042-7f3a9c")
}
