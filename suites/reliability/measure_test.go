package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

// probesAt makes one probe every 100 ms from 0; down lists the failing ones.
func probesAt(n int, down ...int) []result.Probe {
	failing := map[int]bool{}
	for _, d := range down {
		failing[d] = true
	}
	var out []result.Probe
	for i := 0; i < n; i++ {
		out = append(out, result.Probe{AtMS: float64(i * 100), OK: !failing[i], LatencyMS: 1})
	}
	return out
}

func TestTheOutageEndsAtTheFirstOfThreeSuccessesInARow(t *testing.T) {
	t.Parallel()
	// Injected at 250 ms; probes 3..9 fail, 10 passes, 11 fails (a
	// flap), 12, 13, 14 pass: recovered at 1200 ms. The outage starts
	// when probe 3 was due (sent), 1 ms before its answer at 300 ms.
	probes := probesAt(20, 3, 4, 5, 6, 7, 8, 9, 11)
	faults := []result.FaultRecord{{Name: "f", Injected: true, InjectedMS: 250}}
	measureOutages(faults, probes, 3)
	f := faults[0]
	if !f.Outage || f.OutageStartMS != 299 || !f.Recovered || f.RecoveredMS != 1200 || f.RTOMS != 950 {
		t.Fatalf("%+v", f)
	}
	if got := outageMS(probes); got != (1000-299)+(1200-1099) {
		t.Fatalf("outage %v ms", got)
	}
}

func TestNoFailedProbeMeansNoOutageAndATargetThatNeverCameBackIsNotRecovered(t *testing.T) {
	t.Parallel()
	faults := []result.FaultRecord{{Name: "quiet", Injected: true, InjectedMS: 100}, {Name: "fatal", Injected: true, InjectedMS: 500}, {Name: "never", Injected: false}}
	probes := probesAt(10, 6, 7, 8, 9)
	measureOutages(faults[:1], probes[:5], 3)
	if faults[0].Outage || !faults[0].Recovered || faults[0].RTOMS != 0 {
		t.Fatalf("%+v", faults[0])
	}
	measureOutages(faults[1:], probes, 3)
	if f := faults[1]; f.Recovered || f.RTOMS != 400 {
		t.Fatalf("%+v", f)
	}
	if f := faults[2]; f.Outage || f.Recovered {
		t.Fatalf("a fault never injected has no outage: %+v", f)
	}
}

func TestAnOutageIsChargedToTheFaultInjectedBeforeIt(t *testing.T) {
	t.Parallel()
	// A harmless fault at 100 ms, a fatal one at 500 ms: probes 6..7 fail.
	faults := []result.FaultRecord{{Name: "mild", Injected: true, InjectedMS: 100}, {Name: "fatal", Injected: true, InjectedMS: 500}}
	measureOutages(faults, probesAt(15, 6, 7), 3)
	if f := faults[0]; f.Outage || f.RTOMS != 0 || !f.Recovered {
		t.Fatalf("mild: %+v", f)
	}
	if f := faults[1]; !f.Outage || f.RecoveredMS != 800 || f.RTOMS != 300 {
		t.Fatalf("fatal: %+v", f)
	}
}

func TestTheRPOIsTheOldestLostWriteBeforeEachFault(t *testing.T) {
	t.Parallel()
	faults := []result.FaultRecord{{Injected: true, InjectedMS: 1000}, {Injected: true, InjectedMS: 3000}}
	lost := []result.LedgerWrite{{Seq: 5, AckedMS: 700}, {Seq: 6, AckedMS: 900}, {Seq: 20, AckedMS: 2900}}
	if got := rpoMS(lost, faults, 5000); got != 300 {
		t.Fatalf("rpo %v, want 300 (1000 - 700)", got)
	}
	if got := rpoMS(nil, faults, 5000); got != 0 {
		t.Fatalf("rpo %v with nothing lost", got)
	}
	// A write acknowledged as the last fault began adds nothing; one lost
	// with no fault at all counts up to the window's end.
	if got := rpoMS([]result.LedgerWrite{{AckedMS: 3003}}, faults, 5000); got != 0 {
		t.Fatalf("rpo %v", got)
	}
	if got := rpoMS([]result.LedgerWrite{{AckedMS: 4000}}, nil, 5000); got != 1000 {
		t.Fatalf("rpo %v", got)
	}
}

func TestTheTierGivesTheObjectivesAndTheSuiteOverridesThem(t *testing.T) {
	t.Parallel()
	s := &Suite{}
	exp := &result.Experiment{Tier: "critical", RTOS: 3, Recovered: true, OutageS: 2.5,
		Ledger: &result.Ledger{Acknowledged: 10, Lost: []result.LedgerWrite{{Seq: 3}}, RPOS: 0.2}}
	objs := s.objectives(exp)
	byName := map[string]result.Objective{}
	for _, o := range objs {
		byName[o.Name] = o
	}
	if o := byName["rto"]; !o.Passed || o.Source != "tier critical" || o.Limit != "≤ 2m0s" {
		t.Fatalf("rto %+v", o)
	}
	if o := byName["rpo"]; o.Passed || !strings.Contains(o.Measured, "1 of 10") {
		t.Fatalf("rpo %+v", o)
	}
	if o := byName["downtime"]; !o.Passed || !strings.Contains(o.Limit, "5m0s a year") {
		t.Fatalf("downtime %+v", o)
	}
	if _, ok := byName["availability"]; ok {
		t.Fatal("availability is checked only when the suite sets it")
	}
}

func TestObjectivesFailWhenTheTargetDidNotRecoverOrWasDownTooLong(t *testing.T) {
	t.Parallel()
	tenth := 0.9
	s := &Suite{Objectives: Objectives{Availability: &tenth}}
	exp := &result.Experiment{Tier: "general", RTOS: 7, Recovered: false, OutageS: 7, WindowS: 10, Availability: 0.3}
	byName := map[string]result.Objective{}
	for _, o := range s.objectives(exp) {
		byName[o.Name] = o
	}
	if o := byName["rto"]; o.Passed || !strings.Contains(o.Measured, "not recovered") {
		t.Fatalf("rto %+v: a target that never came back cannot meet an RTO, however generous", o)
	}
	if o := byName["availability"]; o.Passed || o.Source != "objectives" || !strings.Contains(o.Measured, "down 7.0 s of 10.0 s") {
		t.Fatalf("availability %+v", o)
	}
	if _, ok := byName["rpo"]; ok {
		t.Fatal("no ledger, no RPO objective")
	}
}

func TestBadReliabilityBlocksAreReportedWithTheirLine(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ body, want string }{
		"no probe": {`
  fault "k" { action = "pod-kill" }`, "main.hcl:2,1-16: Missing probe block"},
		"faults outlast the window": {`
  duration = "2s"
  probe {
    http { path = "/" }
  }
  fault "k" {
    action   = "pod-failure"
    after    = "1s"
    duration = "5s"
  }`, "main.hcl:4,14-18: Faults outlast the experiment"},
		"bad error ratio": {`
  probe {
    http { path = "/" }
  }
  fault "k" { action = "pod-kill" }
  abort_when { error_ratio = 2 }`, "main.hcl:8,30-31: Invalid value for error_ratio"},
		"ledger without read": {`
  probe {
    http { path = "/" }
  }
  fault "k" { action = "pod-kill" }
  ledger {
    write {
      http { path = "/w/${ledger.seq}" }
    }
  }`, "main.hcl:8,3-9: Missing read block"},
		"no fault and no duration": {`
  probe {
    http { path = "/" }
  }`, "main.hcl:2,1-16: Missing duration"},
		"a fault that never ends": {`
  probe {
    http { path = "/" }
  }
  fault "frozen" {
    action = "delay"
    latency = "10ms"
  }`, "main.hcl:7,3-17: Missing duration"},
		"two write blocks": {`
  probe {
    http { path = "/" }
  }
  fault "k" {
    action   = "delay"
    latency  = "10ms"
    duration = "1s"
  }
  ledger {
    write {
      http { path = "/a" }
    }
    write {
      http { path = "/b" }
    }
    read {
      http { path = "/c" }
    }
  }`, "main.hcl:16,5-10: Duplicate write block"},
		"a timeout shorter than the window": {`
  timeout  = "5s"
  duration = "10s"
  probe {
    http { path = "/" }
  }
  fault "k" { action = "pod-kill" }`, "main.hcl:2,1-16: Timeout shorter than the experiment"},
		"probe unknown attribute": {`
  probe {
    evry = "1s"
    http { path = "/" }
  }
  fault "k" { action = "pod-kill" }`, "main.hcl:5,5-9: Unsupported argument"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src := "target \"t\" { url = \"http://127.0.0.1:1\" }\nreliability \"r\" {\n  target = target.t" + c.body + "\n}\n"
			os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644)
			_, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
			var all []string
			for _, d := range diags {
				all = append(all, fmt.Sprintf("%s: %s", d.Subject, d.Summary))
			}
			if !strings.Contains(strings.Join(all, "\n"), c.want) {
				t.Fatalf("diagnostics:\n%s\nwant %q", strings.Join(all, "\n"), c.want)
			}
		})
	}
}
