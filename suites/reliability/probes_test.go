package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
)

func TestNumericIdsCapturedByTheWriteAreKeptAndTheirDuplicatesFound(t *testing.T) {
	t.Parallel()
	// The ledger answers {"id":4} (a JSON number) and gives write 5 the id
	// of write 4.
	src := ledgerServer(t, `CLOUDTEST_TEST_FORGET = "1000", CLOUDTEST_TEST_DISORDER = "1", CLOUDTEST_TEST_NUMERIC_IDS = "1"`, "1500ms", "100ms", "", "")
	_, exp, _ := runExperiment(t, context.Background(), src)
	l := exp.Ledger
	if l == nil || l.Acknowledged < 10 || len(l.Lost) != 0 || l.Verified != l.Acknowledged {
		t.Fatalf("ledger %+v", l)
	}
	var dups []string
	for _, w := range l.Duplicates {
		dups = append(dups, fmt.Sprintf("%d:%s:%s", w.Seq, w.ID, w.Message))
	}
	if strings.Join(dups, ",") != "5:4:the same id as write 4" {
		t.Fatalf("duplicates %q, want write 5 with write 4's id 4", dups)
	}
	t.Logf("%d writes read back; duplicates %q", l.Verified, dups)
}

func TestCanonicalIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    cty.Value
		want string
		ok   bool
	}{
		{cty.StringVal("w-7"), "w-7", true},
		{cty.NumberIntVal(7), "7", true},
		{cty.MustParseNumberVal("7.0"), "7", true},
		{cty.MustParseNumberVal("12345678901234567890123"), "12345678901234567890123", true},
		{cty.True, "true", true},
		{cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1)}), `{"a":1}`, true},
		{cty.NullVal(cty.String), "", false},
		{cty.UnknownVal(cty.Number), "", false},
		{cty.NilVal, "", false},
	} {
		got, ok := canonicalID(tc.v)
		if got != tc.want || ok != tc.ok {
			t.Errorf("canonicalID(%#v) = %q, %v; want %q, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestProbesGoOutOnTheirOwnScheduleWhileTheTargetHangs(t *testing.T) {
	// Frozen from 1 s to 4 s; a probe is due every 100 ms and gives up
	// after 1 s. Probes due from 1 s to 3 s find no answer within their
	// timeout: about 20 of them, not the 2 or 3 of probes sent one after
	// another.
	src := bankTarget(t, t.TempDir()) + `
reliability "hang" {
  target   = target.bank
  duration = "6s"
  probe {
    every   = "100ms"
    timeout = "1s"
    http { path = "/healthz" }
    expect { status = 200 }
  }
  fault "freeze" {
    action   = "pod-failure"
    after    = "1s"
    duration = "3s"
  }
  objectives { rto = "10s" }
}`
	r, exp, _ := runExperiment(t, context.Background(), src)
	if r.Status != result.Passed {
		t.Fatalf("suite %s: %s", r.Status, r.Message)
	}
	f := exp.Faults[0]
	t.Logf("%d probes, %d failed, at most %d in flight; RTO %.0f ms; outage %.2f s", len(exp.Probes), exp.ProbesFailed, exp.ProbesInFlightMax, f.RTOMS, exp.OutageS)
	if exp.ProbesFailed < 15 {
		t.Fatalf("%d failed probes during a 3 s freeze (a probe due every 100 ms, timeout 1 s), want about 20", exp.ProbesFailed)
	}
	// One probe due every interval, whatever the others are doing.
	for i, p := range exp.Probes {
		if want := float64(i) * exp.ProbeEveryMS; math.Abs(p.DueMS-want) > 0.5 {
			t.Fatalf("probe %d due at %.1f ms, want %.0f ms", i, p.DueMS, want)
		}
	}
	// Several in flight while it hangs, but never more than the timeout
	// allows (1 s / 100 ms, and the one just sent).
	if exp.ProbesInFlightMax < 5 || exp.ProbesInFlightMax > 11 {
		t.Fatalf("at most %d probes in flight, want between 5 and 11", exp.ProbesInFlightMax)
	}
	if !f.Recovered || math.Abs(f.RTOMS-3000) > 2*exp.ProbeEveryMS {
		t.Fatalf("RTO %.0f ms, want 3000 ± %.0f ms; fault %+v", f.RTOMS, 2*exp.ProbeEveryMS, f)
	}
	if math.Abs(f.OutageStartMS-f.InjectedMS) > exp.ProbeEveryMS+1 {
		t.Fatalf("outage from %.0f ms, injected at %.0f ms: want the first probe due after the injection", f.OutageStartMS, f.InjectedMS)
	}
	if math.Abs(exp.OutageS-3) > 0.2 {
		t.Fatalf("outage %.2f s, want 3 s", exp.OutageS)
	}
}

// cancelAfterInjection cancels the run a given time after the first fault
// was injected.
type cancelAfterInjection struct {
	runner.Progress
	after  time.Duration
	cancel context.CancelFunc
	once   sync.Once
	at     time.Time
}

func (c *cancelAfterInjection) Logf(suite, text string) {
	if strings.Contains(text, "injected at") {
		c.once.Do(func() {
			time.AfterFunc(c.after, func() { c.at = time.Now(); c.cancel() })
		})
	}
}

// runWith runs src as main.hcl with progress and returns the suite's
// result and experiment.
func runWith(t *testing.T, ctx context.Context, src string, progress runner.Progress) (result.Result, result.Experiment) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	plan, err := runner.NewPlan(cfg, runner.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := runner.Run(ctx, plan, runner.Options{OutDir: t.TempDir(), RunID: "rel-test", Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(sum.Dir, "results.jsonl"))
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r result.Result
		json.Unmarshal([]byte(line), &r)
		if r.Level == result.LevelSuite {
			var exp result.Experiment
			json.Unmarshal(r.Data, &exp)
			return r, exp
		}
	}
	t.Fatalf("no suite result in %s", b)
	return result.Result{}, result.Experiment{}
}

func TestTheProbeInFlightAtAnInterruptCountsAsAnOutage(t *testing.T) {
	// Frozen at 500 ms for longer than the run lasts; the run is
	// interrupted 1 s later, while the probes (timeout 5 s) still wait.
	src := bankTarget(t, t.TempDir()) + `
reliability "frozen" {
  target   = target.bank
  duration = "20s"
  probe {
    every   = "100ms"
    timeout = "5s"
    http { path = "/healthz" }
    expect { status = 200 }
  }
  fault "freeze" {
    action   = "pod-failure"
    after    = "500ms"
    duration = "15s"
  }
}`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, exp := runWith(t, ctx, src, &cancelAfterInjection{Progress: nopProgress{}, after: time.Second, cancel: cancel})
	t.Logf("suite %s; %d probes, %d failed; down %.2f s of %.2f s; availability %.3f", r.Status, len(exp.Probes), exp.ProbesFailed, exp.OutageS, exp.WindowS, exp.Availability)
	if !exp.Interrupted || r.Status == result.Passed {
		t.Fatalf("suite %s: %s", r.Status, r.Message)
	}
	if exp.ProbesFailed < 5 {
		t.Fatalf("%d failed probes: the probes in flight at the interrupt were dropped", exp.ProbesFailed)
	}
	// Down from the freeze to the interrupt: about 1 s of the 1.5 s seen.
	if math.Abs(exp.OutageS-1) > 0.25 || exp.WindowS > 2 || exp.Availability > 0.5 {
		t.Fatalf("down %.2f s of %.2f s (availability %.3f), want about 1 s of 1.5 s", exp.OutageS, exp.WindowS, exp.Availability)
	}
}

// stoppableServer serves /healthz on a loopback port of its own; the first
// request starts a timer that closes the listener after down (connections
// refused) and listens on the same port again stopped later: an outage
// caused from outside cloudtest.
func stoppableServer(t *testing.T, after, stopped time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	var once sync.Once
	var mu sync.Mutex
	var srv *http.Server
	serve := func(l net.Listener) {
		h := http.NewServeMux()
		h.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
			once.Do(func() {
				time.AfterFunc(after, func() {
					mu.Lock()
					srv.Close()
					mu.Unlock()
					time.AfterFunc(stopped, func() {
						l2, err := net.Listen("tcp", addr)
						if err != nil {
							t.Errorf("listening again on %s: %v", addr, err)
							return
						}
						mu.Lock()
						s := &http.Server{Handler: h}
						srv = s
						mu.Unlock()
						go s.Serve(l2)
					})
				})
			})
		})
		mu.Lock()
		srv = &http.Server{Handler: h}
		s := srv
		mu.Unlock()
		go s.Serve(l)
	}
	serve(l)
	t.Cleanup(func() { mu.Lock(); srv.Close(); mu.Unlock() })
	return "http://" + addr
}

func TestASuiteWithoutAFaultMeasuresAnOutageCausedFromOutside(t *testing.T) {
	// A failover done by someone else: the server stops 1 s after the
	// first probe and comes back 1.5 s later.
	url := stoppableServer(t, time.Second, 1500*time.Millisecond)
	src := fmt.Sprintf(`
target "dr" { url = %q }
reliability "failover" {
  target   = target.dr
  duration = "5s"
  probe {
    every = "100ms"
    http { path = "/healthz" }
    expect { status = 200 }
  }
  objectives { rto = "10s" }
}`, url)
	r, exp, _ := runExperiment(t, context.Background(), src)
	t.Logf("suite %s: %s; %d of %d probes failed; outages %+v", r.Status, r.Message, exp.ProbesFailed, len(exp.Probes), exp.Faults)
	if r.Status != result.Passed || len(exp.Faults) != 1 {
		t.Fatalf("suite %s: %s; faults %+v", r.Status, r.Message, exp.Faults)
	}
	o := exp.Faults[0]
	if !o.External || !o.Outage || !o.Recovered || o.InjectedMS != o.OutageStartMS {
		t.Fatalf("outage %+v", o)
	}
	// From the first failed probe to the first of three successes: the
	// 1.5 s the server was away, within two probe intervals.
	if math.Abs(o.RTOMS-1500) > 2*exp.ProbeEveryMS || math.Abs(exp.RTOS*1000-o.RTOMS) > 0.01 {
		t.Fatalf("RTO %.0f ms (experiment %.3f s), want 1500 ± %.0f ms", o.RTOMS, exp.RTOS, 2*exp.ProbeEveryMS)
	}
	if math.Abs(exp.OutageS-1.5) > 0.2 {
		t.Fatalf("outage %.2f s, want 1.5 s", exp.OutageS)
	}
}

// nopProgress is a runner.Progress that shows nothing.
type nopProgress struct{}

func (nopProgress) SuiteStarted(*config.SuiteCommon)                                        {}
func (nopProgress) SuiteFinished(*config.SuiteCommon, result.Status, time.Duration, string) {}
func (nopProgress) Result(result.Result)                                                    {}
func (nopProgress) Logf(string, string)                                                     {}
func (nopProgress) Status(string, string)                                                   {}
