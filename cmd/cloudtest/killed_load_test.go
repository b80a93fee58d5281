package main

import (
	"encoding/json"
	"errors"
	"fmt"
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
	k := killLoadHalfway(t, "")
	raw := countRaw(t, filepath.Join(k.dir, "load", "long.bin"))
	last := k.lastPart(t, 150)
	// The raw file holds what the last part counts, but for a request
	// recorded and not yet written at the moment of the part (a few).
	if int64(raw) < last.Overall.Requests-5 || int64(raw) > k.sent {
		t.Fatalf("last part %+v, %d raw results, %d served", last.Overall, raw, k.sent)
	}
	k.expectReported(t, last)
}

// A load shared by workers = 2 local generators, its coordinator killed
// with kill -9 halfway, keeps what it measured as one generator's does:
// the coordinator wrote the generators' merged totals as parts of the
// suite, each generator (which stops when the coordinator's pipe closes)
// left its raw results in load/<suite>.workers/, and `cloudtest report`
// shows the totals, the suite unfinished and the verdict INCOMPLETE.
func TestAKilledSharedLoadKeepsWhatItMeasured(t *testing.T) {
	k := killLoadHalfway(t, "workers = 2")
	// The generators stop by themselves once their coordinator is gone.
	time.Sleep(2 * time.Second)
	after := k.served.Load()
	time.Sleep(time.Second)
	if n := k.served.Load(); n != after {
		t.Fatalf("the generators went on sending after their coordinator was killed: %d, then %d a second later", after, n)
	}
	raw := 0
	for i := range 2 {
		raw += countRaw(t, filepath.Join(k.dir, "load", "long.workers", fmt.Sprintf("%d.bin", i)))
	}
	// (The coordinator's last part is up to a second behind what the
	// generators sent: they send their totals once a second.)
	last := k.lastPart(t, 100)
	if !strings.Contains(last.Note, "2 of the 2 generators") {
		t.Errorf("the last part's note: %q", last.Note)
	}
	// Each generator's raw file holds at least what its last totals count.
	if int64(raw) < last.Overall.Requests || int64(raw) > after {
		t.Fatalf("last part %+v, %d raw results, %d served", last.Overall, raw, after)
	}
	k.expectReported(t, last)
}

type killedLoad struct {
	bin, dir string
	served   *atomic.Int64
	sent     int64 // served at the kill
}

// killLoadHalfway runs a 30 s load at 50/s (with extra in its load block)
// and kills cloudtest with kill -9 about 5 s into it.
func killLoadHalfway(t *testing.T, extra string) killedLoad {
	t.Helper()
	bin := buildCloudtest(t)
	served := new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
	}))
	t.Cleanup(srv.Close)
	suites, out := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(suites, "p.hcl"), []byte(`
target "t" { url = "`+srv.URL+`" }
performance "long" {
  target = target.t
  load {
    rate     = 50
    duration = "30s"
    `+extra+`
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
	return killedLoad{bin: bin, dir: onlyRunDir(t, out), served: served, sent: served.Load()}
}

// countRaw counts the results in a raw file, each one a request served.
func countRaw(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
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
			t.Errorf("%s: raw result %d: code %d", path, raw, r.Code)
		}
		raw++
	}
	return raw
}

// lastPart is the last part of the suite in results.jsonl, with at least
// least requests: at 5 s, those of 2 s and 4 s at least were written
// (parts every 2 s).
func (k killedLoad) lastPart(t *testing.T, least int64) result.LoadSummary {
	t.Helper()
	var parts []result.LoadSummary
	b, _ := os.ReadFile(filepath.Join(k.dir, "results.jsonl"))
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
		t.Fatalf("%d parts in results.jsonl after kill -9 at %d requests:\n%s", len(parts), k.sent, b)
	}
	last := parts[len(parts)-1]
	t.Logf("killed at %d requests served; %d parts, the last at %.1f s with %d requests", k.sent, len(parts), last.DurationS, last.Overall.Requests)
	if !last.Unfinished || last.Overall.Requests < least || last.Overall.Requests > k.sent || last.Overall.LatencyMS.P99 <= 0 {
		t.Fatalf("last part %+v, %d served", last.Overall, k.sent)
	}
	return last
}

// expectReported checks that `cloudtest report` shows the last part: the
// suite unfinished, the verdict INCOMPLETE.
func (k killedLoad) expectReported(t *testing.T, last result.LoadSummary) {
	t.Helper()
	rep := exec.Command(k.bin, "report", k.dir)
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
	jb, _ := os.ReadFile(filepath.Join(k.dir, "report.json"))
	if err := json.Unmarshal(jb, &model); err != nil || len(model.Suites) != 1 {
		t.Fatalf("report.json: %v\n%s", err, jb)
	}
	s := model.Suites[0]
	if !s.Ran || s.Status != "skipped" || !s.Data.Unfinished || s.Data.Overall.Requests != last.Overall.Requests || s.Data.Overall.LatencyMS.P99 <= 0 {
		t.Fatalf("report.json's suite: %+v", s)
	}
	html, _ := os.ReadFile(filepath.Join(k.dir, "report.html"))
	if !strings.Contains(string(html), "before the suite finished") {
		t.Fatalf("report.html does not say the load was cut short")
	}
}
