package performance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
)

// TestTheSegmentsOfASheduleAreExactlyTheWhole: for a ramp followed by
// stages, the hits of three generators' segments, taken together and
// sorted, are the hits of one generator, each at the same due time.
func TestTheSegmentsOfAScheduleAreExactlyTheWhole(t *testing.T) {
	t.Parallel()
	for _, l := range []Load{
		{Rate: 150, Duration: 4 * time.Second},
		{Stages: []Stage{{Duration: time.Second, Rate: 90}, {Duration: 2 * time.Second, Rate: 30}, {Duration: time.Second, Rate: 120}}, Duration: 4 * time.Second},
		{Rate: 40, Amplitude: 20, Period: 2 * time.Second, Pacer: "sine", Duration: 4 * time.Second},
	} {
		whole := l.schedule()
		want := dueCount(whole, l.Duration, 0)
		var got uint64
		seen := map[time.Duration]int{}
		for i := 0; i < 3; i++ {
			p := l.part(i, 3)
			sched := p.schedule()
			n := dueCount(sched, l.Duration, p.MaxRequests)
			got += n
			for k := uint64(0); k < n; k++ {
				if d, w := sched.due(k), whole.due(k*3+uint64(i)); d != w {
					t.Fatalf("generator %d hit %d due at %s, the whole schedule's hit %d at %s", i, k, d, k*3+uint64(i), w)
				}
				seen[sched.due(k)]++
			}
		}
		if got != want {
			t.Fatalf("%+v: the segments have %d hits, the whole schedule %d", l, got, want)
		}
		for k := uint64(0); k < want; k++ {
			if seen[whole.due(k)] == 0 {
				t.Fatalf("hit %d of the whole schedule is in no segment", k)
			}
		}
	}
	l := Load{Rate: 10, MaxRequests: 10, Concurrency: 7}
	var reqs, users int
	for i := 0; i < 3; i++ {
		p := l.part(i, 3)
		reqs += p.MaxRequests
		users += p.Concurrency
	}
	if reqs != 10 || users != 7 {
		t.Fatalf("max_requests split into %d, users into %d; want 10 and 7", reqs, users)
	}
}

// rawResults reads a vegeta raw results file.
func rawResults(t *testing.T, path string) []vegeta.Result {
	t.Helper()
	out, err := ReadRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestALoadOnThreeLocalGeneratorsIsMergedExactly(t *testing.T) {
	var served atomic.Int64
	var mu sync.Mutex
	rows := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if id, ok := strings.CutPrefix(r.URL.Path, "/row/"); ok {
			mu.Lock()
			rows[id]++
			mu.Unlock()
		}
		time.Sleep(time.Duration(served.Load()%7) * time.Millisecond) // latencies that differ
	}))
	defer srv.Close()
	var feed strings.Builder
	feed.WriteString("id\n")
	for i := 0; i < 600; i++ {
		fmt.Fprintf(&feed, "%d\n", i)
	}
	for _, tt := range []struct{ engine, journey string }{
		{"static requests", simpleJourney},
		{"journeys", `
  feed {
    file = "rows.csv"
    mode = "unique"
  }
  journey "row" {
    step "get" {
      http { path = "/row/${feed.id}" }
      expect { status = 200 }
    }
  }`},
	} {
		t.Run(tt.engine, func(t *testing.T) {
			served.Store(0)
			clear(rows)
			res, ls, dir := runLoadWith(t, srv.URL, `
  load {
    rate     = 150
    duration = "4s"
    workers  = 3
    runner   = "local"
  }`+tt.journey, "", map[string]string{"rows.csv": feed.String()})
			if res.Status != result.Passed || ls.Engine != tt.engine || ls.Runner != "local" {
				t.Fatalf("%s on %s (%s): %s", res.Status, ls.Engine, ls.Runner, res.Message)
			}
			gen := ls.Generator
			if ls.Overall.Requests != 600 || gen == nil || gen.Due != 600 || gen.Sent != 600 || served.Load() != 600 {
				t.Fatalf("requests %d, generator %+v, server saw %d; want 600 of 600", ls.Overall.Requests, gen, served.Load())
			}
			if fmt.Sprintf("%.2f", gen.AchievedRate) != "150.00" {
				t.Fatalf("achieved %.2f/s, want 150.00", gen.AchievedRate)
			}
			if len(ls.Generators) != 3 {
				t.Fatalf("%d generators reported, want 3: %+v", len(ls.Generators), ls.Generators)
			}
			for _, g := range ls.Generators {
				if g.Failed != "" || g.Requests != 200 || fmt.Sprintf("%.2f", g.AchievedRate) != "50.00" || g.CPUSeconds <= 0 || !strings.HasPrefix(g.Location, "local process ") {
					t.Fatalf("generator %+v: want 200 requests at 50.00/s and its CPU time", g)
				}
				if !strings.Contains(res.Message, fmt.Sprintf("generator %d of 3 (%s): 200 requests", g.Index, g.Location)) {
					t.Fatalf("the message does not show generator %d:\n%s", g.Index, res.Message)
				}
			}
			// The merged percentiles are those of every request, as one
			// histogram of the union of the raw results gives them.
			raw := rawResults(t, filepath.Join(dir, ls.Raw))
			if len(raw) != 600 {
				t.Fatalf("%d raw results in %s, want 600", len(raw), ls.Raw)
			}
			h := hdr.New(1, int64(time.Hour/time.Microsecond), 3)
			seqs := map[uint64]int{}
			for _, r := range raw {
				record(h, r.Latency)
				seqs[r.Seq]++
			}
			// Numbered as one generator numbers them: hit 0 to 599, once each.
			for n := uint64(0); n < 600; n++ {
				if seqs[n] != 1 {
					t.Fatalf("sequence number %d is in the raw results %d times", n, seqs[n])
				}
			}
			want := percentiles(h)
			if ls.Overall.LatencyMS.P50 != want.P50 || ls.Overall.LatencyMS.P99 != want.P99 || ls.Overall.LatencyMS.Max != want.Max {
				t.Fatalf("merged p50 %v, p99 %v, max %v; the union of the raw results gives %v, %v, %v",
					ls.Overall.LatencyMS.P50, ls.Overall.LatencyMS.P99, ls.Overall.LatencyMS.Max, want.P50, want.P99, want.Max)
			}
			var perSecond int64
			last := -1
			for _, s := range ls.Series {
				if s.Second <= last {
					t.Fatalf("series not aligned by second: %+v", ls.Series)
				}
				last = s.Second
				perSecond += s.Requests
			}
			if perSecond != 600 || len(ls.Series) < 4 {
				t.Fatalf("the per-second series counts %d requests over %d seconds, want 600 over 4 or 5", perSecond, len(ls.Series))
			}
			if tt.engine == "journeys" {
				if len(rows) != 600 {
					t.Fatalf("%d distinct rows reached the server, want all 600", len(rows))
				}
				for id, n := range rows {
					if n != 1 {
						t.Fatalf("unique row %s was sent %d times", id, n)
					}
				}
			}
			t.Logf("%s: %d requests, %.2f/s, p50 %.3f ms, p99 %.3f ms; generators %+v", tt.engine, ls.Overall.Requests, gen.AchievedRate, want.P50, want.P99, ls.Generators)
		})
	}
}

// workerPIDs are the generator processes this test started (children of
// this process whose command line ends in "worker").
func workerPIDs(t *testing.T) []int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.HasSuffix(strings.TrimRight(string(cmd), "\x00"), "\x00worker") {
			out = append(out, pid)
		}
	}
	return out
}

func TestAGeneratorKilledMidLoad(t *testing.T) {
	var served atomic.Int64
	killed := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) == 100 {
			// A third of the way through: kill -9 one generator.
			go func() {
				pids := workerPIDs(t)
				if len(pids) != 3 {
					killed <- 0
					return
				}
				syscall.Kill(pids[1], syscall.SIGKILL)
				killed <- pids[1]
			}()
		}
	}))
	defer srv.Close()
	res, ls, dir := runLoad(t, srv.URL, `
  load {
    rate     = 90
    duration = "3s"
    workers  = 3
  }`+simpleJourney)
	pid := <-killed
	if pid == 0 {
		t.Fatal("did not find the 3 generator processes")
	}
	if res.Status != result.Failed {
		t.Fatalf("status %s, want failed: %s", res.Status, res.Message)
	}
	wantName := fmt.Sprintf("(local process %d) was killed (signal 9, killed)", pid)
	if !strings.Contains(res.Message, wantName) || !strings.Contains(res.Message, "the figures are those of the 2 other generators") {
		t.Fatalf("the message does not name the killed generator %d:\n%s", pid, res.Message)
	}
	var kept, lost int
	var sum int64
	for _, g := range ls.Generators {
		if g.Failed != "" {
			lost++
			if g.Location != fmt.Sprintf("local process %d", pid) || !strings.Contains(g.Failed, "was killed") {
				t.Fatalf("the failed generator is %+v, want process %d", g, pid)
			}
			continue
		}
		kept++
		sum += g.Requests
		if g.Requests != 90 {
			t.Fatalf("generator %+v sent %d, want its 90", g, g.Requests)
		}
	}
	if kept != 2 || lost != 1 {
		t.Fatalf("%d generators kept and %d lost, want 2 and 1: %+v", kept, lost, ls.Generators)
	}
	if ls.Overall.Requests != sum || sum != 180 {
		t.Fatalf("merged %d requests, the 2 others sent %d; want 180", ls.Overall.Requests, sum)
	}
	if raw := rawResults(t, filepath.Join(dir, ls.Raw)); int64(len(raw)) != sum {
		t.Fatalf("%d raw results kept, want the others' %d", len(raw), sum)
	}
	if left := workerPIDs(t); len(left) != 0 {
		t.Fatalf("generator processes left running: %v", left)
	}
	t.Logf("killed %d; kept %d requests of the 2 others; %s", pid, sum, strings.SplitN(res.Message, "\n", 2)[0])
}

// TestAnInterruptedSharedLoadKeepsWhatTheGeneratorsSent: Ctrl-C (the run's
// context cancelled) interrupts the generators, which stop at once and
// hand in what they measured; none is left running.
func TestAnInterruptedSharedLoadKeepsWhatTheGeneratorsSent(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) }))
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.hcl"), []byte(fmt.Sprintf(`target "t" { url = %q }
performance "load" {
  target = target.t
  load {
    rate     = 40
    duration = "20s"
    workers  = 2
  }
%s
}
`, srv.URL, simpleJourney)), 0o644)
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, err := runner.NewPlan(cfg, runner.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for served.Load() < 40 {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	began := time.Now()
	sum, _ := runner.Run(ctx, plan, runner.Options{OutDir: t.TempDir(), RunID: "perf-interrupted"})
	if took := time.Since(began); took > 8*time.Second {
		t.Fatalf("the interrupted load took %s", took)
	}
	if sum == nil {
		t.Fatal("no run summary")
	}
	var ls result.LoadSummary
	b, _ := os.ReadFile(filepath.Join(sum.Dir, "results.jsonl"))
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r result.Result
		json.Unmarshal([]byte(line), &r)
		if r.Level == result.LevelSuite {
			json.Unmarshal(r.Data, &ls)
		}
	}
	if len(ls.Generators) != 2 {
		t.Fatalf("%d generators in the summary, want 2", len(ls.Generators))
	}
	for _, g := range ls.Generators {
		if g.Failed != "" {
			t.Fatalf("generator %+v failed when interrupted", g)
		}
	}
	if ls.Overall.Requests < 40 || ls.Overall.Requests != served.Load() {
		t.Fatalf("merged %d requests, the server saw %d", ls.Overall.Requests, served.Load())
	}
	if left := workerPIDs(t); len(left) != 0 {
		t.Fatalf("generator processes left running: %v", left)
	}
}

// TestAWorkerLoadsTheVariablesTheCoordinatorHad: whatever set them (a
// -var, a var file, a default), typed or not, the handoff's options give a
// worker's load of the suites the same values.
func TestAWorkerLoadsTheVariablesTheCoordinatorHad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.hcl"), []byte(`variable "rate" { type = number }
variable "paths" { type = list(string) }
variable "token" { sensitive = true }
variable "untyped" {}
variable "kept" { default = "d" }
target "t" { url = "http://127.0.0.1:1" }
performance "load" {
  target = target.t
  load {
    rate     = var.rate
    duration = "1s"
    workers  = 2
  }
`+simpleJourney+`
}
`), 0o644)
	vf := filepath.Join(t.TempDir(), "vars.hcl")
	os.WriteFile(vf, []byte("paths = [\"/a\", \"/b\"]\nuntyped = { n = 3 }\n"), 0o644)
	opts := config.Options{Vars: []string{"rate=12.5", "token=x y=z"}, VarFiles: []string{vf}, Kinds: []config.SuiteKind{Kind}}
	cfg, _, diags := config.Load(dir, opts)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	vars, files := handoffVars(cfg)
	again, _, diags := config.Load(handoffSource(cfg, files), config.Options{Vars: vars, VarFiles: files, Kinds: []config.SuiteKind{Kind}})
	if diags.HasErrors() {
		t.Fatalf("%v (vars %q, files %q)", diags, vars, files)
	}
	for name, v := range cfg.Variables {
		if w := again.Variables[name].Value; !w.RawEquals(v.Value) {
			t.Errorf("variable %s: the worker has %#v, the coordinator %#v", name, w, v.Value)
		}
	}
	if r := again.Suites[0].(*Suite).Load.Rate; r != 12.5 {
		t.Errorf("the worker's rate is %g, want 12.5", r)
	}
}

// TestAClosedModelSharedByGeneratorsSplitsItsUsersAndRequests: 4 virtual
// users and max_requests = 40 on 2 generators: 2 users and 20 journeys
// each, 40 in all, as one generator would have sent.
func TestAClosedModelSharedByGeneratorsSplitsItsUsersAndRequests(t *testing.T) {
	var inFlight, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond)
	}))
	defer srv.Close()
	res, ls, _ := runLoad(t, srv.URL, `
  load {
    concurrency  = 4
    duration     = "5s"
    max_requests = 40
    workers      = 2
  }`+simpleJourney)
	if res.Status != result.Passed || ls.Model != "closed" || ls.Overall.Requests != 40 {
		t.Fatalf("%s, %s model, %d requests; want passed, closed, 40: %s", res.Status, ls.Model, ls.Overall.Requests, res.Message)
	}
	for _, g := range ls.Generators {
		if g.Requests != 20 {
			t.Fatalf("generator %+v: want 20 journeys", g)
		}
	}
	if most.Load() > 4 {
		t.Fatalf("%d requests at once: more than the 4 virtual users", most.Load())
	}
}

// TestTheMergeOfAHundredGeneratorsIsExactAndItsCostKnown merges the parts
// of 100 generators of a one-minute load, read back from their JSON as the
// coordinator reads them: the counts are exact, every second is there, and
// the time and memory the merge took are logged (docs/performance.md
// quotes them).
func TestTheMergeOfAHundredGeneratorsIsExactAndItsCostKnown(t *testing.T) {
	const generators, seconds, perSecond = 100, 60, 20
	made := time.Now()
	var encoded [][]byte
	union := hdr.New(1, int64(time.Hour/time.Microsecond), 3)
	// Ten different parts, each handed in by ten generators: the merge
	// costs what a hundred different ones would, and making them (the
	// workers' share) stays short.
	const distinct = 10
	for g := 0; g < distinct; g++ {
		r := newRecorder(time.Now())
		r.keepParts()
		for s := 0; s < seconds; s++ {
			// The recorder files a request under the second it completes
			// in, counted from its start: move the start back a second.
			r.start = time.Now().Add(-time.Duration(s)*time.Second - time.Millisecond)
			for k := 0; k < perSecond; k++ {
				lat := time.Duration(1+(g*7+s*13+k*31)%5000) * 10 * time.Microsecond
				r.request("j", "get", time.Now(), lat, k != 0, 200, "status 500", 100, 10)
				for c := 0; c < generators/distinct; c++ {
					record(union, lat)
				}
			}
		}
		p := r.export()
		for c := 0; c < generators/distinct; c++ {
			p.Index, p.Of = g*generators/distinct+c, generators
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			encoded = append(encoded, b)
		}
	}
	t.Logf("the parts were made in %s", time.Since(made).Round(time.Millisecond))
	var size int
	for _, b := range encoded {
		size += len(b)
	}
	var before, after runtimeMem
	runtime.GC()
	before.read()
	// The heap's peak while merging, sampled (what a coordinator must have).
	var peak atomic.Uint64
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-sampling:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	began := time.Now()
	var parts []*part
	for _, b := range encoded {
		var p part
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, &p)
	}
	rec, err := mergeParts(parts)
	took := time.Since(began)
	close(sampling)
	<-sampled
	after.read()
	if err != nil {
		t.Fatal(err)
	}
	overall, _, steps, series := rec.summary(time.Minute)
	if want := int64(generators * seconds * perSecond); overall.Requests != want || steps[0].Requests != want || overall.Errors != generators*seconds {
		t.Fatalf("merged %d requests (%d errors), want %d (%d)", overall.Requests, overall.Errors, want, generators*seconds)
	}
	if len(series) != seconds {
		t.Fatalf("%d seconds in the merged series, want %d", len(series), seconds)
	}
	for _, s := range series {
		if s.Requests != generators*perSecond {
			t.Fatalf("second %d has %d requests, want %d", s.Second, s.Requests, generators*perSecond)
		}
	}
	if want := percentiles(union); overall.LatencyMS.P50 != want.P50 || overall.LatencyMS.P99 != want.P99 {
		t.Fatalf("merged p50 %v, p99 %v; one histogram of every request gives %v, %v", overall.LatencyMS.P50, overall.LatencyMS.P99, want.P50, want.P99)
	}
	t.Logf("%d generators × %d s: parts %.1f MB of JSON, read and merged in %s, %.1f MB allocated, heap in use at most %.1f MB (%.1f MB before)",
		generators, seconds, float64(size)/1e6, took.Round(time.Millisecond), float64(after.total-before.total)/1e6, float64(peak.Load())/1e6, float64(before.inuse)/1e6)
}

type runtimeMem struct{ total, inuse uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total, m.inuse = s.TotalAlloc, s.HeapInuse
}

// TestAGeneratorThatCannotStartIsNamed: a worker that ends before it is
// ready stops the suite before any load is sent, naming it with the last
// line it wrote, and leaves no process behind.
func TestAGeneratorThatCannotStartIsNamed(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) }))
	defer srv.Close()
	prev := WorkerCommand
	t.Cleanup(func() { WorkerCommand = prev })
	WorkerCommand = func() (string, []string, error) {
		exe, err := os.Executable()
		return exe, []string{"broken-worker"}, err
	}
	res, _, _ := runLoad(t, srv.URL, `
  load {
    rate     = 10
    duration = "1s"
    workers  = 2
  }`+simpleJourney)
	if res.Status != result.Errored || !regexp.MustCompile(`generator 1 of 2 \(local process \d+\) ended before it was ready: failed \(exit status 3\): worker: the suites cannot be read`).MatchString(res.Message) {
		t.Fatalf("%s: %s", res.Status, res.Message)
	}
	if served.Load() != 0 {
		t.Fatalf("%d requests sent by generators that were not all ready", served.Load())
	}
	if left := workerPIDs(t); len(left) != 0 {
		t.Fatalf("generator processes left running: %v", left)
	}
}
