package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
)

// A reliability suite against a supervised demo bank (the built cloudtest
// itself), probing every 100 ms and writing a ledger every 50 ms for 60 s,
// frozen from 1 s to 2 s.
const longReliabilitySuite = `
target "bank" {
  process {
    command = ["{cloudtest}", "demo", "--listen", "127.0.0.1:{port}", "--data", "{workdir}"]
    env     = { CLOUDTEST_TEST_MARK = "{workdir}" }
    url     = "http://127.0.0.1:{port}"
    ready   = "/healthz"
    restart = "always"
  }
}
# A process that ignores SIGTERM: stopping it takes cloudtest 5 s (then
# SIGKILL), time in which a second Ctrl-C comes.
target "stubborn" {
  process {
    command = ["sh", "-c", "trap '' TERM; exec sleep 600"]
    env     = { CLOUDTEST_TEST_MARK = "{workdir}" }
  }
}
reliability "long" {
  target   = target.bank
  duration = "60s"
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
    every   = "100ms"
    timeout = "300ms"
    http { path = "/healthz" }
    expect { status = 200 }
  }
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
    }
  }
  fault "freeze" {
    action   = "pod-failure"
    after    = "1s"
    duration = "1s"
  }
  fault "later" {
    action   = "pod-failure"
    target   = target.stubborn
    after    = "50s"
    duration = "1s"
  }
}
`

// buildCloudtest builds the cloudtest binary for tests that run it as a
// user would (and kill it). CLOUDTEST_TEST_BIN names another binary
// instead, such as an older cloudtest, to measure it the same way.
func buildCloudtest(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("CLOUDTEST_TEST_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "cloudtest")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startLongRun starts `cloudtest run` of longReliabilitySuite with its run
// directories under out and returns once the output contains until.
func startLongRun(t *testing.T, bin, out, until string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	t.Helper()
	suites := t.TempDir()
	os.WriteFile(filepath.Join(suites, "rel.hcl"), []byte(longReliabilitySuite), 0o644)
	cmd := exec.Command(bin, "run", "--out", out, suites)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		killProcessesMentioning(out)
	})
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(stdout.String(), until) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output within a minute:\n%s\n%s", until, stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cmd, &stdout, &stderr
}

// processesMentioning lists the target processes (not zombies) whose
// CLOUDTEST_TEST_MARK (their {workdir}) contains s, the run's out directory.
func processesMentioning(s string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		mark := false
		for _, kv := range strings.Split(string(b), "\x00") {
			if v, ok := strings.CutPrefix(kv, "CLOUDTEST_TEST_MARK="); ok && strings.Contains(v, s) {
				mark = true
			}
		}
		if !mark {
			continue
		}
		if st := state(pid); st == "Z" || st == "" {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

func killProcessesMentioning(s string) {
	for _, pid := range processesMentioning(s) {
		syscall.Kill(pid, syscall.SIGCONT)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// waitGone waits up to d for no process to mention s and returns those left.
func waitGone(s string, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		left := processesMentioning(s)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWhatAKilledRunLeaves runs the built cloudtest as a user would and
// kills it: kill -9 must keep what was measured, a second Ctrl-C must not
// leave the target processes running, and recover must stop those that a
// kill -9 left.
func TestWhatAKilledRunLeaves(t *testing.T) {
	bin := buildCloudtest(t)
	t.Run("kill -9 keeps what was measured", func(t *testing.T) { killKeepsMeasurements(t, bin) })
	t.Run("a second Ctrl-C stops the target processes", func(t *testing.T) { secondCtrlC(t, bin) })
	t.Run("recover stops the processes kill -9 left", func(t *testing.T) { recoverStopsProcesses(t, bin) })
}

func killKeepsMeasurements(t *testing.T, bin string) {
	out, _ := filepath.Abs(t.TempDir())
	cmd, stdout, _ := startLongRun(t, bin, out, `fault "freeze" removed`)
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	dir := onlyRunDir(t, out)

	b, err := os.ReadFile(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var probes, writes int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r result.Result
		if json.Unmarshal([]byte(line), &r) != nil || r.Level != result.LevelPart {
			continue
		}
		var p result.ExperimentPart
		json.Unmarshal(r.Data, &p)
		probes += len(p.Probes)
		writes += len(p.Writes)
	}
	t.Logf("results.jsonl: %d bytes; %d probes and %d acknowledged writes in its parts", len(b), probes, writes)
	// Killed about 3.5 s into the window: 35 probes, 70 writes, less
	// the last second's at most.
	if probes < 20 || writes < 30 {
		t.Fatalf("results.jsonl holds %d probes and %d writes after kill -9 at about 3.5 s:\n%s\n%s", probes, writes, b, stdout.String())
	}

	rep := exec.Command(bin, "report", dir)
	repOut, _ := rep.CombinedOutput()
	if code := rep.ProcessState.ExitCode(); code != exitIncomplete || !strings.Contains(string(repOut), "Verdict: INCOMPLETE") ||
		!strings.Contains(string(repOut), `reliability suite "long" did not finish: the run ended`) {
		t.Fatalf("report: exit %d\n%s", code, repOut)
	}
	var model struct {
		Suites []struct {
			Name, Status string
			Ran          bool
			Data         result.Experiment
		}
	}
	jb, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(jb, &model); err != nil || len(model.Suites) != 1 {
		t.Fatalf("report.json: %v\n%s", err, jb)
	}
	s := model.Suites[0]
	exp := s.Data
	t.Logf("report: suite %s; %d probes, %d failed, down %.2f s of %.2f s; fault %+v; ledger %+v", s.Status, len(exp.Probes), exp.ProbesFailed, exp.OutageS, exp.WindowS, exp.Faults, exp.Ledger)
	if !s.Ran || s.Status != "skipped" || !exp.Unfinished || len(exp.Probes) != probes || exp.Ledger == nil || exp.Ledger.Acknowledged != writes {
		t.Fatalf("suite %+v", s)
	}
	// The 1 s freeze is in what was measured.
	if len(exp.Faults) != 2 || exp.Faults[0].Name != "freeze" || !exp.Faults[0].Injected || !exp.Faults[0].Removed || exp.ProbesFailed < 3 || exp.OutageS < 0.7 || exp.OutageS > 1.3 {
		t.Fatalf("faults %+v, %d failed probes, down %.2f s", exp.Faults, exp.ProbesFailed, exp.OutageS)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !strings.Contains(string(html), "before the suite finished") || !strings.Contains(string(html), "<svg") {
		t.Fatalf("report.html does not show the partial experiment")
	}
}

func secondCtrlC(t *testing.T, bin string) {
	out, _ := filepath.Abs(t.TempDir())
	// During the freeze, so that the target is a stopped process.
	cmd, _, stderr := startLongRun(t, bin, out, `fault "freeze" (pod-failure) injected`)
	if pids := processesMentioning(out); len(pids) != 2 {
		t.Fatalf("want the demo bank's process and the stubborn one, found %v", pids)
	}
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	start := time.Now()
	cmd.Wait()
	t.Logf("cloudtest exited %d in %s after the second Ctrl-C: %s", cmd.ProcessState.ExitCode(), time.Since(start), strings.TrimSpace(stderr.String()))
	if left := waitGone(out, 2*time.Second); len(left) != 0 {
		t.Fatalf("processes %v of the run still run after the second Ctrl-C", left)
	}
}

func recoverStopsProcesses(t *testing.T, bin string) {
	out, _ := filepath.Abs(t.TempDir())
	cmd, _, _ := startLongRun(t, bin, out, `fault "freeze" removed`)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	dir := onlyRunDir(t, out)
	left := processesMentioning(out)
	if len(left) != 2 {
		t.Fatalf("after kill -9 of cloudtest, want the demo bank and the stubborn process still running, found %v", left)
	}
	// A record of a pid that a later process now has (this test's own,
	// with another start time) must be left alone.
	journal := filepath.Join(dir, "targets", "processes.jsonl")
	f, _ := os.OpenFile(journal, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"target":"bank","event":"start","pid":` + strconv.Itoa(os.Getpid()) + `,"start":1}` + "\n")
	f.Close()

	rec := exec.Command(bin, "recover", dir)
	b, err := rec.CombinedOutput()
	t.Logf("recover: %s", b)
	for _, pid := range left {
		if err != nil || !strings.Contains(string(b), `stopped process `+strconv.Itoa(pid)+` of target`) {
			t.Fatalf("recover: %v\n%s", err, b)
		}
	}
	if strings.Contains(string(b), strconv.Itoa(os.Getpid())) {
		t.Fatalf("recover signalled a process that only has a pid of the journal: %s", b)
	}
	if still := waitGone(out, 2*time.Second); len(still) != 0 {
		t.Fatalf("processes %v still run after recover", still)
	}
	b, err = exec.Command(bin, "recover", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "nothing to remove") {
		t.Fatalf("second recover: %v\n%s", err, b)
	}
}
