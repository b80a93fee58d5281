package functional

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/testhttpbin"
)

// httpbinRun is a run of a suite against a real go-httpbin: its results and
// its run directory.
type httpbinRun struct {
	results []result.Result
	dir     string
}

// runHTTPBin starts go-httpbin, writes files (suite.hcl gets a target
// "httpbin" at its URL in front) and runs them for real.
func runHTTPBin(t *testing.T, files map[string]string, vars ...string) httpbinRun {
	t.Helper()
	return runAgainst(t, testhttpbin.Start(t), files, vars...)
}

func runAgainst(t *testing.T, base string, files map[string]string, vars ...string) httpbinRun {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if name == "suite.hcl" {
			src = "target \"httpbin\" { url = \"" + base + "\" }\n" + src
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts := config.Options{Kinds: []config.SuiteKind{Kind}, Vars: vars}
	cfg, _, diags := config.Load(dir, opts)
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
	return httpbinRun{results: readResults(t, sum.Dir), dir: sum.Dir}
}

// readResults reads the results.jsonl of a run directory.
func readResults(t *testing.T, dir string) []result.Result {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []result.Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r result.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// passed fails the test unless every result passed, printing the
// messages of those that did not.
func (r httpbinRun) passed(t *testing.T) {
	t.Helper()
	if len(r.results) == 0 {
		t.Fatal("no results")
	}
	for _, res := range r.results {
		if res.Status != result.Passed {
			t.Errorf("%s %s/%s %s: %s", res.Level, res.Case, res.Step, res.Status, res.Message)
		}
	}
}

// step returns the result of the named step of a case.
func (r httpbinRun) step(t *testing.T, caseName, name string) result.Result {
	t.Helper()
	for _, res := range r.results {
		if res.Level == result.LevelStep && res.Case == caseName && res.Step == name {
			return res
		}
	}
	t.Fatalf("no result for step %s/%s in %s", caseName, name, outcome(r.results))
	return result.Result{}
}

// loadDiags loads src (after a target "httpbin" on a closed port) and
// returns its diagnostics as text.
func loadDiags(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	full := "target \"httpbin\" { url = \"http://127.0.0.1:1\" }\n" + src
	if err := os.WriteFile(filepath.Join(dir, "suite.hcl"), []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	var parts []string
	for _, d := range diags {
		parts = append(parts, fmt.Sprintf("%s: %s; %s", d.Subject, d.Summary, d.Detail))
	}
	return strings.Join(parts, "\n")
}

// grepRunDir fails the test for every file of the run directory that holds
// one of secrets.
func grepRunDir(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if i := bytes.Index(b, []byte(s)); i >= 0 {
				t.Errorf("%s holds %q: …%s…", p, s, b[max(0, i-200):min(len(b), i+len(s)+40)])
			}
		}
		return nil
	})
	if n == 0 {
		t.Fatalf("the run directory %s is empty", dir)
	}
}

func osWriteFile(p, body string) error { return os.WriteFile(p, []byte(body), 0o644) }
