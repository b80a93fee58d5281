package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

// probeSuite is a suite kind made for these tests: it records one step
// result, then behaves as its "behave" attribute says.
type probeSuite struct {
	config.SuiteCommon
	behave string
	hold   time.Duration
	active *atomic.Int32
	peak   *atomic.Int32
}

func (s *probeSuite) Run(ctx context.Context, env *Env) Outcome {
	n := s.active.Add(1)
	defer s.active.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	env.Record(result.Result{Level: result.LevelStep, Step: "only", Status: result.Passed})
	switch s.behave {
	case "fail":
		return Outcome{Status: result.Failed, Message: "planted failure"}
	case "block":
		<-ctx.Done()
		return Outcome{Status: result.Errored, Message: ctx.Err().Error()}
	case "panic":
		panic("planted panic")
	}
	select {
	case <-time.After(s.hold):
	case <-ctx.Done():
	}
	return Outcome{Status: result.Passed}
}

func probeKind(active, peak *atomic.Int32) config.SuiteKind {
	return config.SuiteKind{Type: "probe", Decode: func(c *config.SuiteCommon, body hcl.Body, dc *config.DecodeContext) (config.Suite, hcl.Diagnostics) {
		content, diags := body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "behave"}, {Name: "hold"}}})
		s := &probeSuite{SuiteCommon: *c, active: active, peak: peak}
		if a, ok := content.Attributes["behave"]; ok {
			s.behave, _ = dc.String(a)
		}
		if a, ok := content.Attributes["hold"]; ok {
			s.hold, _ = dc.Duration(a)
		}
		return s, diags
	}}
}

func loadPlan(t *testing.T, src string, sel Selection) (*Plan, *atomic.Int32) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "suites.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var active, peak atomic.Int32
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{probeKind(&active, &peak)}})
	if diags.HasErrors() {
		t.Fatalf("loading: %s", diags.Error())
	}
	plan, err := NewPlan(cfg, sel)
	if err != nil {
		t.Fatal(err)
	}
	return plan, &peak
}

func names(p *Plan) string {
	var out []string
	for _, s := range p.Suites {
		out = append(out, s.Common().Name)
	}
	return strings.Join(out, ",")
}

func readResults(t *testing.T, dir string) []result.Result {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []result.Result
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r result.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("results.jsonl line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func suiteStatus(rs []result.Result) map[string]result.Status {
	m := map[string]result.Status{}
	for _, r := range rs {
		if r.Level == result.LevelSuite {
			m[r.Suite] = r.Status
		}
	}
	return m
}

const planSrc = `
probe "c" {
  tags       = ["nightly"]
  depends_on = ["a"]
}
probe "a" { tags = ["smoke"] }
probe "b" {
  tags      = ["smoke"]
  component = "ledger"
}
`

func TestPlanSelectsAndOrders(t *testing.T) {
	tests := []struct {
		name string
		sel  Selection
		want string
	}{
		{"everything runs with dependencies first", Selection{}, "a,c,b"},
		{"a tag selects only the tagged suites", Selection{Tags: []string{"smoke"}}, "a,b"},
		{"a selected suite brings what it depends on", Selection{Names: []string{"c"}}, "a,c"},
		{"a component selects its suites", Selection{Components: []string{"ledger"}}, "b"},
		{"a kind that has no suite selects nothing", Selection{Kinds: []string{"performance"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, _ := loadPlan(t, planSrc, tt.sel)
			if got := names(plan); got != tt.want {
				t.Fatalf("plan = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlanRefusesCircularDependencies(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "s.hcl"), []byte("probe \"a\" { depends_on = [\"b\"] }\nprobe \"b\" { depends_on = [\"a\"] }\n"), 0o644)
	var x, y atomic.Int32
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{probeKind(&x, &y)}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, err := NewPlan(cfg, Selection{})
	if err == nil || !strings.Contains(err.Error(), "circle") {
		t.Fatalf("err = %v, want a circular dependency error", err)
	}
}

func TestRunRecordsEverySuiteAndHonoursTheParallelLimit(t *testing.T) {
	src := ""
	for _, n := range []string{"s1", "s2", "s3", "s4", "s5", "s6"} {
		src += "probe \"" + n + "\" { hold = \"50ms\" }\n"
	}
	plan, peak := loadPlan(t, src, Selection{})
	sum, err := Run(context.Background(), plan, Options{OutDir: t.TempDir(), Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	rs := readResults(t, sum.Dir)
	st := suiteStatus(rs)
	if len(st) != 6 {
		t.Fatalf("suite results = %v, want 6", st)
	}
	if p := peak.Load(); p != 2 {
		t.Fatalf("at most %d suites ran at once, want exactly 2 with --parallel 2", p)
	}
	if sum.Interrupted {
		t.Fatal("run marked interrupted")
	}
}

func TestRunSkipsSuitesWhoseDependencyFailed(t *testing.T) {
	plan, _ := loadPlan(t, `
probe "first" { behave = "fail" }
probe "second" { depends_on = ["first"] }
probe "crash" { behave = "panic" }
`, Selection{})
	sum, err := Run(context.Background(), plan, Options{OutDir: t.TempDir(), Parallel: 3})
	if err != nil {
		t.Fatal(err)
	}
	st := suiteStatus(readResults(t, sum.Dir))
	want := map[string]result.Status{"first": result.Failed, "second": result.Skipped, "crash": result.Errored}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("suite %s = %q, want %q", k, st[k], v)
		}
	}
}

func TestSuiteTimeoutIsAnError(t *testing.T) {
	plan, _ := loadPlan(t, `probe "slow" {
  behave  = "block"
  timeout = "100ms"
}`, Selection{})
	sum, err := Run(context.Background(), plan, Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rs := readResults(t, sum.Dir)
	for _, r := range rs {
		if r.Level == result.LevelSuite {
			if r.Status != result.Errored || !strings.Contains(r.Message, "timeout of 100ms") {
				t.Fatalf("suite result = %s %q, want an error naming the timeout", r.Status, r.Message)
			}
			return
		}
	}
	t.Fatal("no suite result")
}

func TestCancellingKeepsWhatWasRecorded(t *testing.T) {
	plan, _ := loadPlan(t, `
probe "running" { behave = "block" }
probe "waiting" { depends_on = ["running"] }
`, Selection{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	sum, err := Run(ctx, plan, Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted {
		t.Fatal("run not marked interrupted")
	}
	rs := readResults(t, sum.Dir)
	st := suiteStatus(rs)
	if st["running"] != result.Skipped {
		t.Fatalf("interrupted suite = %q, want skipped", st["running"])
	}
	if _, ran := st["waiting"]; ran {
		t.Fatal("a suite that never started has a result")
	}
	var run result.Run
	b, _ := os.ReadFile(filepath.Join(sum.Dir, "run.json"))
	if err := json.Unmarshal(b, &run); err != nil || !run.Interrupted || len(run.Suites) != 2 {
		t.Fatalf("run.json = %s (err %v), want interrupted with 2 planned suites", b, err)
	}
}

func TestTermProgressDrawsAndClosesTwice(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	p := NewTermProgress(lockedWriter{&mu, &buf}, 2)
	c := &config.SuiteCommon{Kind: "functional", Name: "login"}
	p.SuiteStarted(c)
	p.SuiteFinished(c, result.Failed, time.Second, "expect.status at x.hcl:3:\nExpected 500")
	p.Close()
	p.Close()
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), "✘ failed functional \"login\" (1s): expect.status at x.hcl:3:\n           Expected 500\n") || !strings.Contains(buf.String(), "1/2 done") {
		t.Fatalf("terminal output %q", buf.String())
	}
}

// On a terminal as in a log, a failure printed in full on its step's line
// is not printed again on its suite's end line, which gives its first
// line; a suite failure no step printed is given in full there.
func TestAFailureIsPrintedInFullOnceByEitherProgress(t *testing.T) {
	const failure = "expect.status at x.hcl:3:\n  got status 500, want 200"
	for name, mk := range map[string]func(w lockedWriter) Progress{
		"terminal": func(w lockedWriter) Progress { return NewTermProgress(w, 2) },
		"log":      func(w lockedWriter) Progress { return NewLineProgress(w) },
	} {
		var buf strings.Builder
		var mu sync.Mutex
		p := mk(lockedWriter{&mu, &buf})
		shown := &config.SuiteCommon{Kind: "functional", Name: "login"}
		p.SuiteStarted(shown)
		p.Result(result.Result{Level: result.LevelStep, Kind: "functional", Suite: "login", Case: "login", Step: "balance", Status: result.Failed, Message: failure})
		p.SuiteFinished(shown, result.Failed, time.Second, `case "login": step "balance" failed: `+failure)
		own := &config.SuiteCommon{Kind: "performance", Name: "load"}
		p.SuiteStarted(own)
		p.SuiteFinished(own, result.Failed, time.Second, "thresholds:\n  p99 was 120ms, want at most 100ms")
		if tp, ok := p.(*TermProgress); ok {
			tp.Close()
		}
		mu.Lock()
		out := buf.String()
		mu.Unlock()
		if n := strings.Count(out, "got status 500, want 200"); n != 1 {
			t.Errorf("%s: the step's failure is printed %d times, want once:\n%s", name, n, out)
		}
		if !strings.Contains(out, `step "balance" failed: expect.status at x.hcl:3: (in full above)`) {
			t.Errorf("%s: the end line does not point at the failure above:\n%s", name, out)
		}
		if !strings.Contains(out, "p99 was 120ms, want at most 100ms") {
			t.Errorf("%s: a suite's own failure is not printed:\n%s", name, out)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
