package performance

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/step"
)

// generator runs one load against one target.
type generator struct {
	s       *Suite
	env     *step.Env
	rec     *recorder
	raw     *rawWriter
	seq     atomic.Uint64
	weights []int
	// attacks name each step's results in the raw file, by journey and step.
	attacks [][]string
	// traceKey is the header the W3C trace context goes in.
	traceKey string
	stop     context.CancelFunc // ends dispatching early (a unique feed ran out)
	dry      atomic.Bool
}

// Run drives the load against the suite's target (and then, with compare,
// against the compared target), compares it with a baseline run when one is
// given, and checks the thresholds.
func (s *Suite) Run(ctx context.Context, renv *runner.Env) runner.Outcome {
	sum, err := s.load(ctx, renv, s.Target, "")
	if err != nil {
		return runner.Outcome{Status: result.Errored, Message: err.Error()}
	}
	if s.Compare != "" && ctx.Err() == nil {
		cmp, err := s.load(ctx, renv, s.Compare, "-"+s.Compare)
		if err != nil {
			return runner.Outcome{Status: result.Errored, Message: "compare: " + err.Error()}
		}
		sum.Compare = &cmp
	}
	overall := sum.Overall
	sum.Thresholds = s.Thresholds.check(overall)
	var notes []string
	if renv.Baseline != "" {
		reg, err := s.regression(renv.Baseline, sum)
		if err != nil {
			notes = append(notes, "baseline: "+err.Error())
		} else {
			sum.Baseline = reg
		}
	}
	for _, st := range sum.Steps {
		renv.Record(result.Result{
			Level: result.LevelStep, Case: "load", Step: st.Name, Phase: "test", Status: result.Passed,
			Message: fmt.Sprintf("%d requests, %d errors, %.1f/s, p50 %.1f ms, p99 %.1f ms", st.Requests, st.Errors, st.TPS, st.LatencyMS.P50, st.LatencyMS.P99),
		})
	}
	data, _ := json.Marshal(sum)
	out := runner.Outcome{Status: result.Passed, Data: data,
		Message: fmt.Sprintf("%d requests in %.1fs: %.1f/s, success %.2f%%, p99 %.1f ms", overall.Requests, sum.DurationS, overall.TPS, overall.Success*100, overall.LatencyMS.P99)}
	if c := sum.Compare; c != nil && c.Overall.LatencyMS.P99 > 0 {
		out.Message += fmt.Sprintf("\nagainst %s: %.1f/s, p99 %.1f ms (p99 ratio %.2f)", s.Compare, c.Overall.TPS, c.Overall.LatencyMS.P99, overall.LatencyMS.P99/c.Overall.LatencyMS.P99)
	}
	if sum.Note != "" {
		notes = append(notes, sum.Note)
	}
	var broken []string
	for _, t := range sum.Thresholds {
		if !t.Passed {
			broken = append(broken, fmt.Sprintf("%s %s: measured %s, limit %s", t.Scope, t.Metric, t.Measured, t.Limit))
		}
	}
	if b := sum.Baseline; b != nil {
		notes = append(notes, b.Explanation)
		if b.Regressed {
			broken = append(broken, "regression against the baseline: "+b.Explanation)
		}
	}
	if len(notes) > 0 {
		out.Message += "\n" + strings.Join(notes, "\n")
	}
	if len(broken) > 0 {
		out.Status = result.Failed
		out.Message = "thresholds broken: " + strings.Join(broken, "; ") + "\n" + out.Message
	}
	if overall.Requests == 0 && ctx.Err() == nil {
		out.Status, out.Message = result.Errored, "no request was sent"
	}
	return out
}

// load runs the load once against target, writing load/<suite><suffix>.bin.
func (s *Suite) load(ctx context.Context, renv *runner.Env, target, suffix string) (result.LoadSummary, error) {
	senv, err := step.NewEnv(renv.Config, renv.URLs(), target)
	if err != nil {
		return result.LoadSummary{}, err
	}
	defer senv.Close()
	senv.Lean = true
	senv.ExtraHeaders = map[string]string{s.Marker: renv.RunID}

	rawRel := filepath.Join("load", fileName(s.Name)+fileName(suffix)+".bin")
	raw, err := newRawWriter(filepath.Join(renv.Dir, rawRel), senv.Redact)
	if err != nil {
		return result.LoadSummary{}, err
	}
	g := newGenerator(s, senv, raw)
	start := time.Now()
	g.rec = newRecorder(start)
	// The load stops dispatching at its duration; requests in flight then
	// finish (bounded by their own timeouts) unless the run is interrupted.
	grace := time.Duration(0)
	if s.Load.Rate > 0 {
		grace = 100 * time.Millisecond
	}
	dispatch, stop := context.WithTimeout(ctx, s.Load.Duration+grace)
	defer stop()
	g.stop = stop
	live := g.live(renv, target, start)
	defer live()
	defer g.pushMetrics(renv, target, start)()
	var smp *sampler
	var prom *promSampler
	why := ""
	if s.Utilization != nil && target == s.Target {
		prom = startPromSampler(s.Utilization)
	} else {
		smp, why = startSampler(renv.Targets[target])
	}
	model, engine := "closed", "journeys"
	var note string
	if fast := s.fastPath(senv); fast != nil {
		model, engine = "open", "vegeta attacker"
		note = g.attack(ctx, fast)
	} else if s.Load.Rate > 0 {
		model = "open"
		note = g.open(dispatch, ctx, start)
	} else {
		g.closed(dispatch, ctx)
	}
	if g.dry.Load() {
		note = strings.TrimSpace(note + fmt.Sprintf(" The unique feed %s ran out after %d rows; the load stopped there.", s.Feed.File, len(s.Feed.Rows)))
	}
	elapsed := time.Since(start)
	if err := raw.Close(); err != nil {
		return result.LoadSummary{}, fmt.Errorf("writing %s: %w", rawRel, err)
	}
	util := &result.Utilization{Unmeasured: why}
	switch {
	case prom != nil:
		util = prom.finish()
	case smp != nil:
		util = smp.finish()
	}
	overall, journeys, steps, series := g.rec.summary(min(elapsed, max(s.Load.Duration, time.Millisecond)))
	return result.LoadSummary{Utilization: util, Model: model, Engine: engine, TargetRate: s.Load.Rate, Concurrency: s.Load.Concurrency,
		DurationS: elapsed.Seconds(), Overall: overall, Journeys: journeys, Steps: steps, Series: series,
		Raw: filepath.ToSlash(rawRel), Note: note, Target: target, Windows: g.rec.windowMedians(), Hops: g.rec.hopSummary(), Histogram: g.rec.histogram()}, nil
}

func newGenerator(s *Suite, env *step.Env, raw *rawWriter) *generator {
	g := &generator{s: s, env: env, raw: raw, traceKey: "Traceparent"}
	for _, j := range s.Journeys {
		g.weights = append(g.weights, j.Weight)
		var names []string
		for _, st := range j.Steps {
			names = append(names, s.Name+"/"+j.Name+"/"+st.Name)
		}
		g.attacks = append(g.attacks, names)
	}
	// A marker header named traceparent is overwritten by the trace, as it
	// always was.
	if strings.EqualFold(s.Marker, "traceparent") {
		g.traceKey = s.Marker
	}
	return g
}

// open starts journeys at the pacer's rate on at most MaxWorkers workers.
// When no worker is free the next journey waits, and its latency counts
// from when it was due. Workers are started as needed and then kept: a
// goroutine per journey would grow its stack anew every time.
func (g *generator) open(dispatch, run context.Context, start time.Time) string {
	sched := g.s.Load.schedule()
	work := make(chan time.Time) // when the next journey was due, to an idle worker
	var wg sync.WaitGroup
	worker := func(due time.Time) {
		defer wg.Done()
		for ok := true; ok; due, ok = <-work {
			g.journey(run, due)
		}
	}
	workers := 0
	var hits uint64
	var late int64
	timer := time.NewTimer(0)
	defer timer.Stop()
loop:
	for g.s.Load.MaxRequests == 0 || hits < uint64(g.s.Load.MaxRequests) {
		// The load's last hit is the last one due by its duration; the
		// dispatch context (a little longer) only guards against a stall.
		if sched.due(hits) > g.s.Load.Duration {
			break
		}
		wait, stop := sched.Pace(time.Since(start), hits)
		if stop {
			break
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
				continue
			case <-dispatch.Done():
				break loop
			}
		}
		due := start.Add(sched.due(hits))
		select {
		case work <- due:
		default:
			if workers < g.s.Load.MaxWorkers {
				workers++
				wg.Add(1)
				go worker(due)
				break
			}
			select {
			case work <- due:
			case <-dispatch.Done():
				break loop
			}
		}
		if time.Since(due) > 10*time.Millisecond {
			late++
		}
		hits++
	}
	close(work)
	wg.Wait()
	want := sched.expected(g.s.Load.Duration)
	if g.s.Load.MaxRequests > 0 {
		want = min(want, float64(g.s.Load.MaxRequests))
	}
	if late > int64(hits)/100 || float64(hits) < 0.99*want-1 {
		return fmt.Sprintf("the generator could not keep the rate: it started %d of the %.0f journeys due, %d of them more than 10 ms late (achieved %.1f/s; raise max_workers, now %d, or lower the rate %.1f/s)",
			hits, want, late, float64(hits)/g.s.Load.Duration.Seconds(), g.s.Load.MaxWorkers, g.s.Load.Rate)
	}
	return ""
}

// closed runs Concurrency virtual users, each starting its next journey
// when the last one ended (plus think time).
func (g *generator) closed(dispatch, run context.Context) {
	var started atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < g.s.Load.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for dispatch.Err() == nil {
				if n := started.Add(1); g.s.Load.MaxRequests > 0 && n > int64(g.s.Load.MaxRequests) {
					return
				}
				g.journey(run, time.Now())
				if g.s.Load.ThinkTime > 0 {
					select {
					case <-time.After(g.s.Load.ThinkTime):
					case <-dispatch.Done():
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// pick returns the index of a journey, drawn by weight.
func (g *generator) pick() int {
	if len(g.s.Journeys) == 1 {
		return 0
	}
	total := 0
	for _, w := range g.weights {
		total += w
	}
	n := rand.IntN(total)
	for i, w := range g.weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(g.s.Journeys) - 1
}

// journey runs the steps of one journey in order, captures flowing; the
// first step's latency counts from when the journey was due.
func (g *generator) journey(ctx context.Context, due time.Time) {
	env := *g.env
	if g.s.Feed != nil {
		row, ok := g.s.Feed.row()
		if !ok {
			g.dry.Store(true)
			g.stop()
			return
		}
		env.Vars = map[string]cty.Value{"feed": row}
	}
	ji := g.pick()
	j := g.s.Journeys[ji]
	g.rec.begin()
	defer g.rec.end()
	captures := map[string]cty.Value{}
	ok := true
	from := due
	// One W3C trace per journey and one span per step, so that the load
	// can be found in the system's tracing. The journey's steps run one
	// after the other, so they share one header map.
	var tp traceparent
	tp.start()
	headers := map[string]string{g.s.Marker: g.env.ExtraHeaders[g.s.Marker]}
	env.ExtraHeaders = headers
	for si, st := range j.Steps {
		headers[g.traceKey] = tp.next()
		out := st.Run(ctx, &env, captures)
		end := time.Now()
		lat := end.Sub(from)
		passed := out.Status == result.Passed
		kind := errorKind(out)
		g.rec.request(j.Name, st.Name, from, lat, passed, out.Code, kind, out.BytesIn, out.BytesOut)
		g.rec.serverTiming(out.ServerTiming)
		g.raw.write(&vegeta.Result{Attack: g.attacks[ji][si], Seq: g.seq.Add(1) - 1, Code: uint16(out.Code),
			Timestamp: from, Latency: lat, BytesIn: uint64(out.BytesIn), BytesOut: uint64(out.BytesOut), Error: errorText(out)})
		if !passed {
			ok = false
			break
		}
		for k, v := range out.Captures {
			captures[k] = v
		}
		from = end
	}
	g.rec.journey(j.Name, time.Since(due), ok)
}

// traceparent builds W3C traceparent values: "00-" trace id (32 hex
// digits) "-" span id (16) "-01", without fmt.
type traceparent [55]byte

// start draws the trace id.
func (t *traceparent) start() {
	copy(t[:], "00-")
	putHex(t[3:19], rand.Uint64())
	putHex(t[19:35], rand.Uint64()|1)
	t[35] = '-'
	copy(t[52:], "-01")
}

// next draws a span id and returns the header's value.
func (t *traceparent) next() string {
	putHex(t[36:52], rand.Uint64()|1)
	return string(t[:])
}

func putHex(b []byte, v uint64) {
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
}

func errorKind(o step.Outcome) string {
	switch {
	case o.Status == result.Passed:
		return ""
	case o.Status == result.Failed && o.Code > 0:
		return fmt.Sprintf("check failed (status %d)", o.Code)
	case o.Status == result.Failed:
		return "check failed"
	}
	return classify(o.Message)
}

// classify names the kind of a transport error.
func classify(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "refused"):
		return "connection refused"
	case strings.Contains(m, "reset"):
		return "connection reset"
	case strings.Contains(m, "timeout") || strings.Contains(m, "deadline"):
		return "timeout"
	case strings.Contains(m, "canceled"):
		return "cancelled"
	}
	return "error"
}

func errorText(o step.Outcome) string {
	if o.Status == result.Passed {
		return ""
	}
	if i := strings.IndexByte(o.Message, '\n'); i > 0 {
		return o.Message[:i]
	}
	return o.Message
}

func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ' ' || r == ':' {
			return '_'
		}
		return r
	}, s)
}

// rawWriter streams results in vegeta's gob encoding, so that `vegeta
// report` and `vegeta plot` read load/<suite>.bin.
type rawWriter struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	enc vegeta.Encoder
	err error
	red rawRedaction
}

func newRawWriter(path string, red *step.Redactor) (*rawWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	return &rawWriter{f: f, w: w, enc: vegeta.NewEncoder(w), red: rawRedaction{red: red}}, nil
}

func (r *rawWriter) write(res *vegeta.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.red.clean(res)
		r.err = r.enc.Encode(res)
	}
}

func (r *rawWriter) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.w.Flush(); err != nil && r.err == nil {
		r.err = err
	}
	if err := r.f.Close(); err != nil && r.err == nil {
		r.err = err
	}
	return r.err
}

// live reports the load's progress once a second: elapsed of total,
// achieved rate, p99 so far and errors. The returned function stops it.
func (g *generator) live(renv *runner.Env, target string, start time.Time) func() {
	return everySecond(func() {
		el := time.Since(start)
		n, errs, p99 := g.rec.snapshot()
		renv.Status(fmt.Sprintf("%s %s/%s, %.0f/s, p99 %.1f ms, %d errors", target,
			el.Round(time.Second), g.s.Load.Duration, float64(n)/el.Seconds(), p99, errs))
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
