package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cloudtest/cloudtest/internal/result"
)

// A load killed with kill -9 halfway keeps what it measured: the raw
// results up to its last part are in load/<suite>.bin, the totals in a
// part of results.jsonl, and `cloudtest report` shows them, the suite
// unfinished and the verdict INCOMPLETE.
func TestAKilledLoadKeepsWhatItMeasured(t *testing.T) {
	bin := buildCloudtest(t)
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
	}))
	defer srv.Close()
	suites, out := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(suites, "p.hcl"), []byte(`
target "t" { url = "`+srv.URL+`" }
performance "long" {
  target = target.t
  load {
    rate     = 50
    duration = "30s"
  }
  journey "j" {
    step "s" {
      http { path = "/" }
      expect { status = 200 }
    }
  }
}
`), 0o644)
	cmd := exec.Command(bin, "run", "--out", out, suites)
	var stdout syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for served.Load() < 250 { // about 5 s into the load
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("%d requests within a minute:\n%s", served.Load(), stdout.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	sent := served.Load()
	dir := onlyRunDir(t, out)

	// The raw results: every one of them a request that was served.
	f, err := os.Open(filepath.Join(dir, "load", "long.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := vegeta.NewDecoder(f)
	raw := 0
	for {
		var r vegeta.Result
		if err := dec.Decode(&r); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Logf("decoding stopped after %d results: %v (the file's last result may be cut)", raw, err)
			}
			break
		}
		if r.Code != 200 {
			t.Errorf("raw result %d: code %d", raw, r.Code)
		}
		raw++
	}
	// Parts every 2 s: at 5 s, those of 2 s and 4 s at least.
	var parts []result.LoadSummary
	b, _ := os.ReadFile(filepath.Join(dir, "results.jsonl"))
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r result.Result
		if json.Unmarshal([]byte(line), &r) != nil || r.Level != result.LevelPart {
			continue
		}
		var ls result.LoadSummary
		json.Unmarshal(r.Data, &ls)
		parts = append(parts, ls)
	}
	if len(parts) < 2 {
		t.Fatalf("%d parts in results.jsonl after kill -9 at %d requests:\n%s", len(parts), sent, b)
	}
	last := parts[len(parts)-1]
	t.Logf("killed at %d requests served; %d raw results on disk; %d parts, the last at %.1f s with %d requests", sent, raw, len(parts), last.DurationS, last.Overall.Requests)
	// The raw file holds what the last part counts, but for a request
	// recorded and not yet written at the moment of the part (a few).
	if !last.Unfinished || last.Overall.Requests < 150 || last.Overall.Requests > sent || int64(raw) < last.Overall.Requests-5 || int64(raw) > sent {
		t.Fatalf("last part %+v, %d raw results, %d served", last.Overall, raw, sent)
	}

	rep := exec.Command(bin, "report", dir)
	repOut, _ := rep.CombinedOutput()
	if code := rep.ProcessState.ExitCode(); code != exitIncomplete || !strings.Contains(string(repOut), "Verdict: INCOMPLETE") ||
		!strings.Contains(string(repOut), "the run ended") {
		t.Fatalf("report: exit %d\n%s", code, repOut)
	}
	var model struct {
		Suites []struct {
			Name, Status string
			Ran          bool
			Data         result.LoadSummary
		}
	}
	jb, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(jb, &model); err != nil || len(model.Suites) != 1 {
		t.Fatalf("report.json: %v\n%s", err, jb)
	}
	s := model.Suites[0]
	if !s.Ran || s.Status != "skipped" || !s.Data.Unfinished || s.Data.Overall.Requests != last.Overall.Requests || s.Data.Overall.LatencyMS.P99 <= 0 {
		t.Fatalf("report.json's suite: %+v", s)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !strings.Contains(string(html), "before the suite finished") {
		t.Fatalf("report.html does not say the load was cut short")
	}
}
