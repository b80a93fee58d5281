package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/testkube"
)

func kubeSuite(kubeconfig, ns, body string) string {
	return fmt.Sprintf(`
target "bank" {
  kubernetes {
    namespace  = %q
    service    = "bank"
    kubeconfig = %q
  }
}
%s
`, ns, kubeconfig, body)
}

func suiteExperiment(t *testing.T, dir string) (result.Result, result.Experiment) {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, "results.jsonl"))
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

// TestAReliabilitySuiteKillsABankPodInTheClusterAndMeasuresItsRTO runs a
// reliability suite against the demo bank as a Deployment in the cluster:
// Chaos Mesh kills its pod, the Deployment re-creates it, and the RTO
// covers the re-creation and the readiness of the new pod.
func TestAReliabilitySuiteKillsABankPodInTheClusterAndMeasuresItsRTO(t *testing.T) {
	c := testkube.Get(t)
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 1)
	before := c.Pods(t, ns, "app=bank")
	suites := t.TempDir()
	os.WriteFile(filepath.Join(suites, "kube.hcl"), []byte(kubeSuite(c.Kubeconfig, ns, `
reliability "bank-pod-loss" {
  target   = target.bank
  duration = "20s"
  probe {
    every = "200ms"
    http { path = "/healthz" }
    expect { status = 200 }
  }
  fault "kill" {
    action       = "pod-kill"
    mode         = "one"
    grace_period = 0
    after        = "2s"
  }
  objectives { rto = "2m" }
}`)), 0o644)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--out", out, suites}, &stdout, &stderr)
	dir := onlyRunDir(t, out)
	r, exp := suiteExperiment(t, dir)
	if code != exitOK || r.Status != result.Passed {
		t.Fatalf("exit %d, suite %s: %s\nstdout:\n%s\nstderr:\n%s\n%s", code, r.Status, r.Message, stdout.String(), stderr.String(), c.PodReport(ns))
	}
	f := exp.Faults[0]
	// The new pod cannot be ready sooner than its readiness delay after it
	// starts: the RTO holds at least that.
	if !f.Injected || !f.Outage || !f.Recovered || f.RTOMS < testkube.ReadyDelaySeconds*1000 || f.Engine != "kubernetes" {
		t.Fatalf("fault record %+v (RTO must hold the new pod's %d s readiness delay)\n%s", f, testkube.ReadyDelaySeconds, c.PodReport(ns))
	}
	after := c.Pods(t, ns, "app=bank")
	for _, p := range after {
		if p.Name == before[0].Name {
			t.Fatalf("pod %s is still there after the pod-kill", p.Name)
		}
	}
	if objs := c.ChaosObjects(t, ns); len(objs) != 0 {
		t.Fatalf("PodChaos objects left after the run: %v", objs)
	}
	t.Logf("pod %s killed at %.0f ms, replaced by %s; RTO %.0f ms; availability %.3f over %d probes",
		before[0].Name, f.InjectedMS, after[0].Name, f.RTOMS, exp.Availability, len(exp.Probes))
}

// TestAKilledOrInterruptedRunLeavesNoChaosMeshObject freezes the bank's pod
// with a pod-failure, then ends cloudtest: with Ctrl-C it deletes the
// object itself; after kill -9, `cloudtest recover` does, and the pod gets
// its image back.
func TestAKilledOrInterruptedRunLeavesNoChaosMeshObject(t *testing.T) {
	c := testkube.Get(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			ns := c.Namespace(t)
			c.DeployDemobank(t, ns, 1)
			suites := t.TempDir()
			os.WriteFile(filepath.Join(suites, "kube.hcl"), []byte(kubeSuite(c.Kubeconfig, ns, `
reliability "bank-freeze" {
  target   = target.bank
  duration = "5m"
  probe {
    every = "500ms"
    http { path = "/healthz" }
  }
  fault "freeze" {
    action   = "pod-failure"
    after    = "1s"
    duration = "4m"
  }
}`)), 0o644)
			out := t.TempDir()
			cmd := exec.Command(exe, "run", "--out", out, suites) // the test binary acts as cloudtest (TestMain)
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(2 * time.Minute)
			for !strings.Contains(stdout.String(), `fault "freeze" (pod-failure) injected`) {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("the fault was never injected:\n%s\n%s\n%s", stdout.String(), stderr.String(), c.PodReport(ns))
				}
				time.Sleep(50 * time.Millisecond)
			}
			if objs := c.ChaosObjects(t, ns); len(objs) != 1 {
				t.Fatalf("PodChaos objects while injected: %v", objs)
			}
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(90 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("cloudtest did not stop within 90 s of %s:\n%s", sig, stdout.String())
			}
			dir := onlyRunDir(t, out)
			var rec bytes.Buffer
			if sig == syscall.SIGKILL {
				if objs := c.ChaosObjects(t, ns); len(objs) != 1 {
					t.Fatalf("after kill -9 the objects are %v, want the one left behind", objs)
				}
				var stderr bytes.Buffer
				if code := run([]string{"recover", dir}, &rec, &stderr); code != exitOK {
					t.Fatalf("recover: exit %d\n%s\n%s", code, rec.String(), stderr.String())
				}
				if !strings.Contains(rec.String(), `removed fault "freeze" (pod-failure, kubernetes engine)`) {
					t.Fatalf("recover said:\n%s", rec.String())
				}
			} else if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
				t.Fatalf("exit %d after Ctrl-C, want %d\n%s\n%s", code, exitInterrupted, stdout.String(), stderr.String())
			}
			if objs := c.ChaosObjects(t, ns); len(objs) != 0 {
				t.Fatalf("PodChaos objects left: %v\n%s", objs, rec.String())
			}
			// The workload is whole again: its pod runs the bank's image and is ready.
			c.WaitDeployment(t, ns, "bank", 90*time.Second)
			for _, p := range c.Pods(t, ns, "app=bank") {
				if img := p.Spec.Containers[0].Image; p.DeletionTimestamp == nil && img != testkube.DemobankImage {
					t.Fatalf("pod %s runs %s, want %s", p.Name, img, testkube.DemobankImage)
				}
			}
		})
	}
}

// TestTheLedgerShowsWhatAPodWithoutAVolumeLoses kills the demo bank's only
// pod while a ledger writes to it: the Deployment re-creates the pod with
// no data (no volume), so every write acknowledged before the kill is
// lost, and every write acknowledged after recovery is read back. The RPO
// objective of 0 is broken and the run is rejected.
func TestTheLedgerShowsWhatAPodWithoutAVolumeLoses(t *testing.T) {
	c := testkube.Get(t)
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 1)
	suites := t.TempDir()
	os.WriteFile(filepath.Join(suites, "kube.hcl"), []byte(kubeSuite(c.Kubeconfig, ns, `
reliability "bank-pod-data-loss" {
  target   = target.bank
  duration = "15s"
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
    every = "200ms"
    http { path = "/healthz" }
    expect { status = 200 }
  }
  ledger {
    every = "100ms"
    write {
      http {
        method  = "POST"
        path    = "/api/ledger"
        headers = { Authorization = "Bearer ${capture.token}" }
        json    = { ref = "pod-loss", seq = ledger.seq }
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
  fault "kill" {
    action       = "pod-kill"
    mode         = "one"
    grace_period = 0
    after        = "3s"
  }
  objectives {
    rto = "2m"
    rpo = "0s"
  }
}`)), 0o644)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--out", out, suites}, &stdout, &stderr)
	dir := onlyRunDir(t, out)
	r, exp := suiteExperiment(t, dir)
	if code != exitRejected || r.Status != result.Failed || exp.Ledger == nil || len(exp.Faults) != 1 {
		t.Fatalf("exit %d, suite %s: %s\nstdout:\n%s\nstderr:\n%s\n%s", code, r.Status, r.Message, stdout.String(), stderr.String(), c.PodReport(ns))
	}
	f, l := exp.Faults[0], exp.Ledger
	if !f.Injected || !f.Recovered {
		t.Fatalf("fault record %+v", f)
	}
	// Ground truth: the new pod has none of the old one's data, so the
	// writes lost are exactly those acknowledged before the kill (a write
	// in flight during it may have reached the old pod or failed).
	var before, after, lostAfter int
	for _, w := range l.Lost {
		if w.AckedMS > f.RecoveredMS {
			lostAfter++
		}
	}
	if len(l.Lost) == 0 || lostAfter != 0 || l.RPOS <= 0 {
		t.Fatalf("lost %d writes (%d acknowledged after recovery at %.0f ms), RPO %.2f s; ledger %+v", len(l.Lost), lostAfter, f.RecoveredMS, l.RPOS, l)
	}
	// About 30 writes at 100 ms in the 3 s before the kill.
	before = len(l.Lost)
	after = l.Verified
	if before < 20 || after < 20 || l.Acknowledged != before+after+len(l.Unverified) {
		t.Fatalf("lost %d, verified %d, unverified %d of %d acknowledged: %+v", before, after, len(l.Unverified), l.Acknowledged, l)
	}
	if !strings.Contains(r.Message, "rpo") && !strings.Contains(r.Message, "RPO") {
		t.Errorf("the suite's message does not name the RPO: %s", r.Message)
	}
	t.Logf("pod killed at %.0f ms, recovered at %.0f ms: %d writes lost (RPO %.2f s), %d read back after", f.InjectedMS, f.RecoveredMS, before, l.RPOS, after)
}
