package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
)

// bankTarget is a supervised demo bank (the test binary re-executed) with
// its journal in dataDir; extra are further demo flags.
func bankTarget(t *testing.T, dataDir string, extra ...string) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--listen", "127.0.0.1:{port}", "--data", dataDir}, extra...)
	return fmt.Sprintf(`
target "bank" {
  process {
    command = [%q, "-test.run=^$"]
    env     = { CLOUDTEST_TEST_DEMO = %q }
    url     = "http://127.0.0.1:{port}"
    ready   = "/healthz"
    restart = "always"
  }
}
`, exe, strings.Join(args, "\n"))
}

const bankLogin = `
  setup {
    step "login" {
      http {
        method = "POST"
        path   = "/api/login"
        json   = { user = "alice", password = "wonderland" }
      }
      expect { status = 200 }
      capture { token = response.json.token }
    }
  }
  probe {
    every = "100ms"
    http { path = "/healthz" }
    expect { status = 200 }
  }
`

const bankLedger = `
  ledger {
    every = "50ms"
    write {
      http {
        method  = "POST"
        path    = "/api/ledger"
        headers = { Authorization = "Bearer ${capture.token}" }
        json    = { seq = ledger.seq }
      }
      expect { status = 201 }
      capture { id = response.json.id }
    }
    read {
      http {
        path    = "/api/ledger/${ledger.id}"
        headers = { Authorization = "Bearer ${capture.token}" }
      }
      expect { status = 200 }
      capture { position = response.json.seq }
    }
  }
`

// killedBank is a suite that writes to a supervised demo bank (started with
// the demo flags given) and kills it after the given time, with an RTO of
// 10 s and an RPO of 0 as objectives.
func killedBank(t *testing.T, after string, demoFlags ...string) string {
	return bankTarget(t, t.TempDir(), demoFlags...) + `
reliability "kill" {
  target   = target.bank
  duration = "4s"
` + bankLogin + bankLedger + `
  fault "kill" {
    action = "pod-kill"
    after  = "` + after + `"
  }
  objectives {
    rto = "10s"
    rpo = "0s"
  }
}`
}

// ledgerServer is a suite against the test binary serving a ledger
// (serveForgetfulLedger) with the environment given, writing every 20 ms
// and pausing the server after 500 ms for pause; readCapture and rest go
// into the read step and the suite.
func ledgerServer(t *testing.T, env, window, pause, readCapture, rest string) string {
	exe, _ := os.Executable()
	return fmt.Sprintf(`
target "ledger" {
  process {
    command = [%q, "-test.run=^$"]
    env     = { %s, CLOUDTEST_TEST_PORT = "{port}" }
    url     = "http://127.0.0.1:{port}"
    ready   = "/healthz"
  }
}
reliability "ledger" {
  target   = target.ledger
  duration = %q
  probe {
    http { path = "/healthz" }
    expect { status = 200 }
  }
  ledger {
    every = "20ms"
    write {
      http {
        method = "POST"
        path   = "/ledger"
        json   = { seq = ledger.seq }
      }
      expect { status = 201 }
      capture { id = response.json.id }
    }
    read {
      http { path = "/ledger/${ledger.id}" }
      expect { status = 200 }
      %s
    }
  }
  fault "pause" {
    action   = "pod-failure"
    after    = "500ms"
    duration = %q
  }
  %s
}`, exe, env, window, readCapture, pause, rest)
}

// runExperiment loads src as main.hcl, runs it, and returns the suite's
// result, its experiment and the run directory.
func runExperiment(t *testing.T, ctx context.Context, src string) (result.Result, result.Experiment, string) {
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
	sum, err := runner.Run(ctx, plan, runner.Options{OutDir: t.TempDir(), RunID: "rel-test"})
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
			return r, exp, sum.Dir
		}
	}
	t.Fatalf("no suite result in %s", b)
	return result.Result{}, result.Experiment{}, ""
}

func TestATargetStoppedForTwoSecondsHasAnRTOOfTwoSeconds(t *testing.T) {
	src := bankTarget(t, t.TempDir()) + `
reliability "freeze" {
  target   = target.bank
  duration = "5s"
` + bankLogin + `
  fault "freeze" {
    action   = "pod-failure"
    after    = "1s"
    duration = "2s"
  }
  objectives { rto = "10s" }
}`
	r, exp, _ := runExperiment(t, context.Background(), src)
	if r.Status != result.Passed {
		t.Fatalf("suite %s: %s", r.Status, r.Message)
	}
	f := exp.Faults[0]
	if !f.Injected || !f.Removed || !f.Outage || !f.Recovered {
		t.Fatalf("fault record %+v", f)
	}
	// Within two probe intervals of the 2 s the process was stopped.
	if math.Abs(f.RTOMS-2000) > 2*exp.ProbeEveryMS {
		t.Fatalf("RTO %.0f ms, want 2000 ± %.0f ms; probes: %+v", f.RTOMS, 2*exp.ProbeEveryMS, exp.Probes)
	}
	t.Logf("RTO %.0f ms (stopped for 2000 ms), availability %.3f over %d probes", f.RTOMS, exp.Availability, len(exp.Probes))
	// Down about 2 s of the 5 s window.
	if exp.ProbesFailed == 0 || math.Abs(exp.Availability-0.6) > 0.05 {
		t.Fatalf("availability %.3f from %d ok / %d failed probes", exp.Availability, exp.ProbesOK, exp.ProbesFailed)
	}
}

func TestADurableBankLosesNoAcknowledgedWriteWhenKilled(t *testing.T) {
	t.Parallel()
	src := killedBank(t, "1500ms")
	r, exp, _ := runExperiment(t, context.Background(), src)
	if r.Status != result.Passed {
		t.Fatalf("suite %s: %s", r.Status, r.Message)
	}
	l := exp.Ledger
	if l == nil || l.Acknowledged < 20 || len(l.Lost) != 0 || len(l.Unverified) != 0 || l.Verified != l.Acknowledged || l.RPOS != 0 {
		t.Fatalf("ledger %+v", l)
	}
	if len(l.OutOfOrder) != 0 || len(l.Duplicates) != 0 {
		t.Fatalf("ledger order: %+v", l)
	}
	t.Logf("%d writes, %d acknowledged, %d read back, none lost; RTO %.0f ms", l.Written, l.Acknowledged, l.Verified, exp.Faults[0].RTOMS)
}

func TestAWriteBehindBankLosesWritesAndTheRPOSaysHowMany(t *testing.T) {
	// Nothing is flushed within the test: every write acknowledged before
	// the kill is lost, every one after it is still in memory when read.
	src := killedBank(t, "1800ms", "--write-behind", "10m")
	r, exp, _ := runExperiment(t, context.Background(), src)
	if r.Status != result.Failed || !strings.Contains(r.Message, "RPO") {
		t.Fatalf("suite %s: %s", r.Status, r.Message)
	}
	l := exp.Ledger
	kill := exp.Faults[0].InjectedMS
	// About 36 writes were acknowledged in the 1.8 s before the kill.
	if len(l.Lost) < 20 || l.Verified+len(l.Lost) != l.Acknowledged {
		t.Fatalf("ledger %+v", l)
	}
	first := l.Lost[0].AckedMS
	if math.Abs(l.RPOS*1000-(kill-first)) > 1 || l.RPOS < 1.5 {
		t.Fatalf("RPO %.3f s, want the kill at %.0f ms minus the first lost write's acknowledgement at %.0f ms", l.RPOS, kill, first)
	}
	for i, w := range l.Lost {
		if w.AckedMS > kill+100 || w.ID == "" || w.Seq != i+1 {
			t.Fatalf("lost write %+v (the %d-th), kill at %.0f ms", w, i+1, kill)
		}
	}
	t.Logf("%d of %d acknowledged writes lost (seq 1..%d), RPO %.3f s", len(l.Lost), l.Acknowledged, len(l.Lost), l.RPOS)
}

func TestExactlyTheWritesATargetDropsAreLost(t *testing.T) {
	t.Parallel()
	src := ledgerServer(t, `CLOUDTEST_TEST_FORGET = "4"`, "2s", "300ms", "", `objectives { rpo = "0s" }`)
	r, exp, _ := runExperiment(t, context.Background(), src)
	l := exp.Ledger
	if r.Status != result.Failed || l == nil || l.Acknowledged < 10 || l.Acknowledged != l.Written {
		t.Fatalf("suite %s: %s; ledger %+v", r.Status, r.Message, l)
	}
	// The target acknowledged every write and kept all but the multiples of 4.
	var want, got []string
	for seq := 4; seq <= l.Written; seq += 4 {
		want = append(want, fmt.Sprintf("%d:w-%d", seq, seq))
	}
	for _, w := range l.Lost {
		got = append(got, fmt.Sprintf("%d:%s", w.Seq, w.ID))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || l.Verified != l.Acknowledged-len(want) {
		t.Fatalf("lost %v, want %v (verified %d of %d)", got, want, l.Verified, l.Acknowledged)
	}
	if !strings.Contains(r.Message, "RPO") {
		t.Fatalf("message %q", r.Message)
	}
	t.Logf("lost exactly %d writes, the multiples of 4 among %d acknowledged", len(got), l.Acknowledged)
}

func TestAnInterruptRemovesTheFaultAndKeepsTheMeasurements(t *testing.T) {
	t.Parallel()
	src := bankTarget(t, t.TempDir()) + `
reliability "freeze" {
  target   = target.bank
  duration = "20s"
` + bankLogin + `
  fault "freeze" {
    action   = "pod-failure"
    after    = "500ms"
    duration = "15s"
  }
}`
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(2500*time.Millisecond, cancel)
	start := time.Now()
	r, exp, dir := runExperiment(t, ctx, src)
	if time.Since(start) > 10*time.Second {
		t.Fatalf("the interrupted run took %s", time.Since(start))
	}
	if r.Status == result.Passed || !exp.Interrupted || len(exp.Probes) == 0 {
		t.Fatalf("suite %s: %s; experiment %+v", r.Status, r.Message, exp)
	}
	f := exp.Faults[0]
	if !f.Injected || !f.Removed {
		t.Fatalf("fault %+v", f)
	}
	journal, err := os.ReadFile(filepath.Join(dir, "faults", "freeze.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, line := range strings.Split(strings.TrimSpace(string(journal)), "\n") {
		var rec struct{ Event, Fault string }
		json.Unmarshal([]byte(line), &rec)
		events = append(events, rec.Fault+":"+rec.Event)
	}
	if strings.Join(events, ",") != "freeze:intent,freeze:inject,freeze:remove" {
		t.Fatalf("journal events %v, want the injection and its removal:\n%s", events, journal)
	}
}

func TestAbortWhenEndsTheFaultEarly(t *testing.T) {
	t.Parallel()
	src := bankTarget(t, t.TempDir()) + `
reliability "guarded" {
  target   = target.bank
  duration = "6s"
  probe {
    every   = "100ms"
    timeout = "300ms"
    http { path = "/healthz" }
    expect { status = 200 }
  }
  fault "freeze" {
    action   = "pod-failure"
    after    = "500ms"
    duration = "5s"
  }
  abort_when {
    error_ratio = 0.5
    window      = "1s"
  }
}`
	r, exp, _ := runExperiment(t, context.Background(), src)
	f := exp.Faults[0]
	if r.Status != result.Failed || exp.Aborted == "" || !strings.Contains(r.Message, "aborted") {
		t.Fatalf("suite %s: %s (aborted %q)", r.Status, r.Message, exp.Aborted)
	}
	// Removed once half the last second's probes had failed: well before
	// the 5 s it was meant to last, and the bank recovered in the window.
	if !f.Removed || f.RemovedMS > 3000 || !f.Recovered {
		t.Fatalf("fault %+v", f)
	}
}

func TestNoFaultIsInjectedWhenTheSteadyStateDoesNotHold(t *testing.T) {
	t.Parallel()
	src := bankTarget(t, t.TempDir()) + `
reliability "unsteady" {
  target = target.bank
  steady_state {
    step "teapot" {
      http { path = "/healthz" }
      expect { status = 418 }
    }
  }
  probe {
    http { path = "/healthz" }
  }
  fault "kill" { action = "pod-kill" }
}`
	r, exp, dir := runExperiment(t, context.Background(), src)
	if r.Status != result.Failed || !strings.Contains(r.Message, "steady state did not hold") || exp.Faults[0].Injected {
		t.Fatalf("suite %s: %s; fault %+v", r.Status, r.Message, exp.Faults[0])
	}
	if b, err := os.ReadFile(filepath.Join(dir, "faults", "unsteady.jsonl")); err == nil && strings.Contains(string(b), "inject") {
		t.Fatalf("journal: %s", b)
	}
}

func TestDuplicatesAndWritesOutOfOrderAreListed(t *testing.T) {
	t.Parallel()
	src := ledgerServer(t, `CLOUDTEST_TEST_FORGET = "1000", CLOUDTEST_TEST_DISORDER = "1"`, "1500ms", "100ms",
		"capture { position = response.json.position }", "")
	_, exp, _ := runExperiment(t, context.Background(), src)
	l := exp.Ledger
	if l == nil || l.Acknowledged < 10 || len(l.Lost) != 0 {
		t.Fatalf("ledger %+v", l)
	}
	var dups, disorder []string
	for _, w := range l.Duplicates {
		dups = append(dups, fmt.Sprintf("%d:%s", w.Seq, w.Message))
	}
	for _, w := range l.OutOfOrder {
		disorder = append(disorder, fmt.Sprintf("%d:%s", w.Seq, w.Message))
	}
	// Write 5 has write 4's id; write 8 sits at position 7, before write
	// 7's 8. (Write 5 also reads back write 4's position.)
	if len(dups) == 0 || !strings.HasPrefix(dups[0], "5:the same id as write 4") {
		t.Fatalf("duplicates %q", dups)
	}
	if strings.Join(disorder, ",") != "8:at position 7, before an earlier write's 8" {
		t.Fatalf("out of order %q", disorder)
	}
}
