package performance

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

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
	// keys name each step in the recorder, by journey and step (stepKey).
	keys [][]string
	// traceKey is the header the W3C trace context goes in.
	traceKey string
	stop     context.CancelFunc // ends dispatching early (a unique feed ran out)
	dry      atomic.Bool
	// started counts the journeys that began (a hit that found a unique
	// feed empty did not).
	started atomic.Uint64
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
	sum.Thresholds = s.Thresholds.check(overall, sum.Generator)
	// The success limit holds for each step too: a journey's step that
	// fails more often than it allows fails the suite, although the
	// steps that pass make the overall share look good.
	for _, st := range sum.Steps {
		if min := s.Thresholds.stepSuccess(); st.Requests > 0 && st.Success < min && len(sum.Steps) > 1 {
			sum.Thresholds = append(sum.Thresholds, result.Threshold{Scope: "step " + st.Name, Metric: "success", Limit: fmt.Sprintf("≥ %g", min),
				Measured: fmt.Sprintf("%.4f", st.Success), Passed: false, Source: s.Thresholds.successSource()})
		}
	}
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
		// A step's record (a test case in junit.xml, a step in the
		// counts) fails when fewer of its requests succeeded than the
		// suite's success limit asks: a step whose every request failed
		// is not shown green beside its failed suite.
		status, why := result.Passed, ""
		if min := s.Thresholds.stepSuccess(); st.Requests > 0 && st.Success < min {
			status, why = result.Failed, fmt.Sprintf(" (success %.2f%%, below the %g the suite asks)", st.Success*100, min)
		}
		renv.Record(result.Result{
			Level: result.LevelStep, Case: "load", Step: st.Name, Phase: "test", Status: status,
			Message: fmt.Sprintf("%d requests, %d errors, %.1f/s, p50 %.1f ms, p99 %.1f ms%s", st.Requests, st.Errors, st.TPS, st.LatencyMS.P50, st.LatencyMS.P99, why),
		})
	}
	data, _ := json.Marshal(sum)
	out := runner.Outcome{Status: result.Passed, Data: data, Message: s.summaryMessage(&sum)}
	// The terminal shows a passed suite's first line only: the limits in
	// force go there too, with where each came from.
	renv.Logf("limits: %s", limitsLine(sum.Thresholds))
	if sum.Note != "" {
		notes = append(notes, sum.Note)
	}
	if b := sum.Baseline; b != nil {
		notes = append(notes, b.Explanation)
	}
	broken := brokenLimits(&sum)
	if len(notes) > 0 {
		out.Message += "\n" + strings.Join(notes, "\n")
	}
	lost := lostGenerators(&sum)
	if len(broken) > 0 {
		out.Status = result.Failed
		out.Message = "thresholds broken: " + strings.Join(broken, "; ") + "\n" + out.Message
	}
	if len(lost) > 0 {
		// The load sent was not the load asked for: what the others
		// measured is kept, but the suite cannot pass.
		out.Status = result.Failed
		out.Message = fmt.Sprintf("generator lost: %s; the figures are those of the %d other generators\n%s", strings.Join(lost, "; "), len(sum.Generators)-len(lost), out.Message)
	}
	if b := sum.Baseline; b != nil && b.Undecided && out.Status == result.Passed {
		// Asked to compare with a baseline, the suite could not: it
		// is not passed (nor failed, which would claim a regression).
		out.Status = result.Errored
		out.Message = "the regression against the baseline could not be judged: " + b.Explanation + "\n" + out.Message
	}
	if overall.Requests == 0 && ctx.Err() == nil && len(lost) == 0 {
		out.Status, out.Message = result.Errored, "no request was sent"
	}
	return out
}

// summaryMessage is the suite's message before its notes: the load's
// figures, the generator's own (one line per generator of a shared load),
// the limits in force and, with compare, the compared target's.
func (s *Suite) summaryMessage(sum *result.LoadSummary) string {
	overall := sum.Overall
	msg := fmt.Sprintf("%d requests in %.1fs: %.1f/s, success %.2f%%, p99 %.1f ms", overall.Requests, sum.DurationS, overall.TPS, overall.Success*100, overall.LatencyMS.P99)
	if gen := sum.Generator; gen != nil {
		msg += fmt.Sprintf("\ngenerator: %d of %d due sent (%.1f/s of %.1f/s); its own lag (due to begun) p50 %.2f ms, p99 %.2f ms, not charged to the target; %d waited for a free worker, charged from their due time",
			gen.Sent, gen.Due, gen.AchievedRate, gen.DueRate, gen.WakeDelayMS.P50, gen.WakeDelayMS.P99, gen.Waited)
	}
	for _, r := range sum.Generators {
		msg += "\n" + generatorLine(r, len(sum.Generators))
	}
	if len(overall.ErrorKinds) > 0 {
		msg += "\nerrors: " + errorsLine(overall)
	}
	msg += "\nlimits: " + limitsLine(sum.Thresholds)
	if c := sum.Compare; c != nil && c.Overall.LatencyMS.P99 > 0 {
		msg += fmt.Sprintf("\nagainst %s: %.1f/s, success %.2f%%, p99 %.1f ms (p99 ratio %.2f)", s.Compare, c.Overall.TPS, c.Overall.Success*100, c.Overall.LatencyMS.P99, overall.LatencyMS.P99/c.Overall.LatencyMS.P99)
	}
	return msg
}

// errorsLine names the kinds of errors, most frequent first, each with
// its count and its first message: "error × 100 (first: Get …: EOF)".
func errorsLine(o result.LoadStats) string {
	kinds := slices.SortedFunc(maps.Keys(o.ErrorKinds), func(a, b string) int {
		if d := o.ErrorKinds[b] - o.ErrorKinds[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for i, k := range kinds {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more kinds", len(kinds)-3))
			break
		}
		p := fmt.Sprintf("%s × %d", k, o.ErrorKinds[k])
		if m := o.ErrorSamples[k]; m != "" && m != k {
			p += " (first: " + m + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// brokenLimits are the thresholds that did not hold, then a regression
// against the baseline, each in words.
func brokenLimits(sum *result.LoadSummary) []string {
	var broken []string
	for _, t := range sum.Thresholds {
		if !t.Passed {
			broken = append(broken, fmt.Sprintf("%s %s: measured %s, limit %s (%s)", t.Scope, t.Metric, t.Measured, t.Limit, t.Source))
		}
	}
	if b := sum.Baseline; b != nil && b.Regressed {
		broken = append(broken, "regression against the baseline: "+b.Explanation)
	}
	return broken
}

// lostGenerators are why each failed generator of the load (and of the
// compared load) was lost.
func lostGenerators(sum *result.LoadSummary) []string {
	var lost []string
	for _, r := range sum.Generators {
		if r.Failed != "" {
			lost = append(lost, r.Failed)
		}
	}
	if c := sum.Compare; c != nil {
		for _, r := range c.Generators {
			if r.Failed != "" {
				lost = append(lost, "compare: "+r.Failed)
			}
		}
	}
	return lost
}

// generatorLine is one generator of a shared load: what it sent and its CPU.
func generatorLine(r result.GeneratorRun, of int) string {
	if r.Failed != "" {
		return fmt.Sprintf("generator %d of %d (%s): FAILED, %s; CPU %.2fs", r.Index, of, r.Location, r.Failed, r.CPUSeconds)
	}
	due := ""
	if r.DueRate > 0 {
		due = fmt.Sprintf(" of %.2f/s due", r.DueRate)
	}
	return fmt.Sprintf("generator %d of %d (%s): %d requests, %d errors, %.2f/s%s; CPU %.2fs (%.0f%% of a core)",
		r.Index, of, r.Location, r.Requests, r.Errors, r.AchievedRate, due, r.CPUSeconds, r.CPUPercent)
}

// limitsLine lists every limit in force, where it came from and whether it held.
func limitsLine(ts []result.Threshold) string {
	var parts []string
	for _, t := range ts {
		verdict := "held"
		if !t.Passed {
			verdict = "broken"
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s): %s, %s", t.Metric, t.Limit, t.Source, t.Measured, verdict))
	}
	return strings.Join(parts, "; ")
}

// load runs the load once against target, writing load/<suite><suffix>.bin.
func (s *Suite) load(ctx context.Context, renv *runner.Env, target, suffix string) (result.LoadSummary, error) {
	if s.Load.Workers > 0 {
		return s.distribute(ctx, renv, target, suffix)
	}
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
	live := g.live(renv, target, start)
	defer live()
	defer g.pushMetrics(renv, target, start)()
	if suffix == "" {
		// The compared target's load (suffix -NAME) writes none: a run
		// killed then keeps this one's last part, written at its end.
		defer g.checkpoints(renv, raw, rawRel, target)()
	}
	util, finish := s.sample(renv, target)
	model, engine, gen := g.drive(ctx, start)
	note := g.loadNote(gen)
	elapsed := time.Since(start)
	if err := raw.Close(); err != nil {
		return result.LoadSummary{}, fmt.Errorf("writing %s: %w", rawRel, err)
	}
	util = finish()
	sum := g.summarize(model, engine, gen, elapsed, note)
	sum.Utilization, sum.Raw, sum.Target = util, filepath.ToSlash(rawRel), target
	return sum, nil
}

// sample starts measuring the target's CPU and memory: from Prometheus when
// the suite asks, else from what cloudtest started. finish stops it and
// returns what was measured (or why nothing was).
func (s *Suite) sample(renv *runner.Env, target string) (*result.Utilization, func() *result.Utilization) {
	if s.Utilization != nil && target == s.Target {
		prom := startPromSampler(s.Utilization)
		return nil, prom.finish
	}
	smp, why := startSampler(renv.Targets[target])
	if smp == nil {
		u := &result.Utilization{Unmeasured: why}
		return u, func() *result.Utilization { return u }
	}
	return nil, smp.finish
}

// drive sends the load from start: the open model's dispatcher or the
// closed model's users, each sending either journeys or, for a load of one
// static request, that request built once. The load
// stops dispatching at its duration (an open model may catch up for a
// grace period); requests in flight then finish (bounded by their own
// timeouts) unless the run is interrupted.
func (g *generator) drive(ctx context.Context, start time.Time) (model, engine string, gen *result.Generator) {
	s := g.s
	extra := time.Duration(0)
	if s.Load.Rate > 0 {
		extra = grace
	}
	dispatch, stop := context.WithDeadline(ctx, start.Add(s.Load.Duration+extra))
	defer stop()
	g.stop = stop
	model, engine = "closed", "journeys"
	journeys := func() func(time.Time) {
		sc := new(journeyScratch) // this worker's: one journey at a time
		return func(begin time.Time) { g.journey(ctx, begin, sc) }
	}
	if fast := s.fastPath(g.env); fast != nil {
		model, engine = "open", "static requests"
		gen = g.open(dispatch, ctx, start, g.staticUser(ctx, fast))
	} else if s.Load.Rate > 0 {
		model = "open"
		gen = g.open(dispatch, ctx, start, journeys)
	} else if st := s.static(g.env); st != nil {
		engine = "static requests"
		g.closed(dispatch, ctx, g.staticUser(ctx, st))
	} else {
		g.closed(dispatch, ctx, journeys)
	}
	return model, engine, gen
}

// loadNote is what the load could not do: keep the rate, or go on after a
// unique feed ran out.
func (g *generator) loadNote(gen *result.Generator) string {
	note := g.note(gen)
	if g.dry.Load() {
		note = strings.TrimSpace(note + fmt.Sprintf(" The unique feed %s ran out after %d rows; the load stopped there.", g.s.Feed.File, len(g.s.Feed.Rows)))
	}
	return note
}

// summarize turns what the recorder holds into the load's summary.
func (g *generator) summarize(model, engine string, gen *result.Generator, elapsed time.Duration, note string) result.LoadSummary {
	s := g.s
	overall, journeys, steps, series := g.rec.summary(min(elapsed, max(s.Load.Duration, time.Millisecond)))
	return result.LoadSummary{Model: model, Engine: engine, TPSCounts: tpsCounts, TargetRate: s.Load.Rate, Concurrency: s.Load.Concurrency,
		DurationS: elapsed.Seconds(), Overall: overall, Journeys: journeys, Steps: steps, Series: series,
		Note: note, Windows: g.rec.windowMedians(), Hops: g.rec.hopSummary(), Histogram: g.rec.histogram(),
		Generator: gen}
}

// tpsCounts says what a summary's TPS counts: successful requests.
const tpsCounts = "successes"

// note says what the generator could not do: keep the rate (and what to
// change), or wake on time.
func (g *generator) note(gen *result.Generator) string {
	if gen == nil {
		return ""
	}
	var notes []string
	if gen.Sent < gen.Due {
		why := fmt.Sprintf("%d journeys waited for a free worker (raise max_workers, now %d, or lower the rate)", gen.Waited, g.s.Load.MaxWorkers)
		if gen.Waited == 0 {
			why = "no journey waited for a worker: the generator itself fell behind (the machine running cloudtest is too busy)"
		}
		notes = append(notes, fmt.Sprintf("the generator could not keep the rate: it sent %d of the %d journeys due (achieved %.1f/s of %.1f/s); %s",
			gen.Sent, gen.Due, gen.AchievedRate, gen.DueRate, why))
	}
	if woke := gen.Sent - gen.Waited; woke >= 100 && gen.WakeDelayMS.P99 > 10 {
		notes = append(notes, fmt.Sprintf("the generator itself was late (p99 %.1f ms, max %.1f ms from due to begun): not charged to the target, but the machine running cloudtest was too busy for the figures to be trusted", gen.WakeDelayMS.P99, gen.WakeDelayMS.Max))
	}
	return strings.Join(notes, "; ")
}

func newGenerator(s *Suite, env *step.Env, raw *rawWriter) *generator {
	if s.Feed != nil && len(s.Feed.Sensitive) > 0 {
		// What a journey computes from a sensitive column (upper(), a
		// header built from it) is a secret too, as the column's own
		// values already are.
		e := *env
		e.SecretVars = map[string][]string{"feed": s.Feed.Sensitive}
		env = &e
	}
	g := &generator{s: s, env: env, raw: raw, traceKey: "Traceparent"}
	for _, j := range s.Journeys {
		g.weights = append(g.weights, j.Weight)
		var names, keys []string
		for _, st := range j.Steps {
			names = append(names, s.Name+"/"+j.Name+"/"+st.Name)
			keys = append(keys, stepKey(j.Name, st.Name))
		}
		g.attacks = append(g.attacks, names)
		g.keys = append(g.keys, keys)
	}
	// A marker header named traceparent is overwritten by the trace, as it
	// always was.
	if strings.EqualFold(s.Marker, "traceparent") {
		g.traceKey = s.Marker
	}
	return g
}

// open starts journeys at the pacer's rate on at most MaxWorkers workers,
// each measured by the rule in dispatch.go: from when a worker began it,
// or from when it was due if it had to wait for a worker. Workers
// are started as needed and then kept: a goroutine per journey would grow
// its stack anew every time.
func (g *generator) open(dispatch, run context.Context, start time.Time, newWorker func() func(begin time.Time)) *result.Generator {
	sched := g.s.Load.schedule()
	pool := &workerPool{g: g, work: make(chan job), max: g.s.Load.MaxWorkers, newWorker: newWorker}
	var hits uint64
	var waitEnd time.Time // when the dispatcher last stopped waiting for a worker
	blocked := false
	timer := time.NewTimer(0)
	defer timer.Stop()
loop:
	for g.s.Load.MaxRequests == 0 || hits < uint64(g.s.Load.MaxRequests) {
		// The load's last hit is the last one due by its duration; the
		// dispatch context (a little longer) stops a dispatcher stuck
		// behind busy workers.
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
		j := job{due: due, pressed: waitEnd.After(due)}
		waited, ended := pool.hand(dispatch, &j)
		if ended {
			blocked = true
			break loop
		}
		if waited {
			waitEnd = time.Now()
		}
		if j.pressed {
			g.rec.waitedFor(time.Since(due))
		}
		hits++
	}
	stopped := time.Now()
	close(pool.work)
	pool.wg.Wait()
	return g.settle(sched, dispatched{began: start, handed: hits, stopped: stopped, blocked: blocked}, g.started.Load(), run.Err() != nil)
}

// workerPool is an open model's workers: started as journeys need them,
// up to max, and then kept, each taking the next journey handed on work.
type workerPool struct {
	g         *generator
	work      chan job // the next journey, to an idle worker
	wg        sync.WaitGroup
	n, max    int
	newWorker func() func(begin time.Time)
}

// run is one worker: j, then every journey handed to it until work closes.
func (p *workerPool) run(j job) {
	defer p.wg.Done()
	journey := p.newWorker()
	for ok := true; ok; j, ok = <-p.work {
		journey(j.begin(p.g.rec, time.Now()))
	}
}

// hand gives j to an idle worker, or to a new one while there are fewer
// than max. With every worker busy (the target's backpressure) it marks j
// pressed and waits for one: waited says it did, ended that dispatch
// ended first.
func (p *workerPool) hand(dispatch context.Context, j *job) (waited, ended bool) {
	select {
	case p.work <- *j:
		return false, false
	default:
	}
	if p.n < p.max {
		p.n++
		p.wg.Add(1)
		go p.run(*j)
		return false, false
	}
	j.pressed = true
	select {
	case p.work <- *j:
		return true, false
	case <-dispatch.Done():
		return true, true
	}
}

// closed runs Concurrency virtual users, each starting its next journey
// (with user, made for each) when the last one ended (plus think time).
func (g *generator) closed(dispatch, run context.Context, newUser func() func(begin time.Time)) {
	var started atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < g.s.Load.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			journey := newUser()
			for dispatch.Err() == nil {
				if n := started.Add(1); g.s.Load.MaxRequests > 0 && n > int64(g.s.Load.MaxRequests) {
					return
				}
				journey(time.Now())
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

// staticUser makes the workers (open model) or users (closed model) of a
// load that is one static request (Suite.static): each sends it as a
// journey of one step would (the marker, a W3C trace, the step's status
// rule, the same records and raw results), without evaluating the step
// every time.
func (g *generator) staticUser(run context.Context, st *step.Static) func() func(begin time.Time) {
	j := g.s.Journeys[0]
	key, attack := g.keys[0][0], g.attacks[0][0]
	return func() func(time.Time) {
		user := st.User(run)       // this user's, reused: one request at a time
		trace := make([]string, 1) // its traceparent, set anew per request
		user.Header[g.traceKey] = trace
		var tp traceparent
		res := new(vegeta.Result) // this user's, reused: the raw file copies it
		return func(begin time.Time) {
			g.started.Add(1)
			g.rec.begin()
			defer g.rec.end()
			tp.start()
			trace[0] = tp.next()
			sent, err := user.Send()
			lat := time.Since(begin)
			code := sent.Code
			passed, kind, msg := err == nil, "", ""
			switch {
			case err != nil:
				kind, msg = classify(err), err.Error()
			case len(st.Statuses) > 0 && !slices.Contains(st.Statuses, code):
				passed, kind = false, "check failed (status "+itoa(code)+")"
				msg = kind
			case len(st.Statuses) == 0 && badStatus(code):
				passed, kind = false, "status "+itoa(code)
				msg = kind
			}
			if i := strings.IndexByte(msg, '\n'); i > 0 {
				msg = msg[:i]
			}
			g.rec.requestKey(key, begin, lat, passed, code, kind, sent.BytesIn, len(st.Body))
			if kind != "" {
				g.rec.sample(kind, g.env.Redact.String(msg))
			}
			g.rec.serverTiming(sent.ServerTiming)
			g.rec.journey(j.Name, lat, passed)
			*res = vegeta.Result{Attack: attack, Seq: g.seq.Add(1) - 1, Code: uint16(code), Timestamp: begin, Latency: lat,
				BytesIn: uint64(sent.BytesIn), BytesOut: uint64(len(st.Body)), Error: msg, Method: st.Method, URL: st.URL}
			g.raw.write(res)
		}
	}
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
// first step's latency (and the journey's) counts from begin: when the
// dispatcher woke for it, or when it was due if it waited for a worker
// (open model), or now (closed model). sc is the worker's scratch, reused
// from one journey to the next (nil: a new one).
func (g *generator) journey(ctx context.Context, begin time.Time, sc *journeyScratch) {
	if sc == nil {
		sc = new(journeyScratch)
	}
	sc.env = *g.env
	env := &sc.env
	env.Scratch = &sc.step
	env.Jar = step.NewCookieJar() // each iteration is a new visitor: its own cookies
	if g.s.Feed != nil {
		row, ok := g.s.Feed.row()
		if !ok {
			g.dry.Store(true)
			g.stop()
			return
		}
		env.Vars = map[string]cty.Value{"feed": row}
	}
	g.started.Add(1)
	ji := g.pick()
	j := g.s.Journeys[ji]
	g.rec.begin()
	defer g.rec.end()
	if sc.captures == nil {
		sc.captures, sc.headers = map[string]cty.Value{}, map[string]string{}
	}
	captures := sc.captures
	clear(captures)
	ok := true
	from := begin
	// One W3C trace per journey and one span per step, so that the load
	// can be found in the system's tracing. The journey's steps run one
	// after the other, so they share one header map.
	var tp traceparent
	tp.start()
	headers := sc.headers
	clear(headers)
	headers[g.s.Marker] = g.env.ExtraHeaders[g.s.Marker]
	env.ExtraHeaders = headers
	var paused time.Duration
	for si, st := range j.Steps {
		if think := j.Think[si]; think > 0 {
			if !pause(ctx, think) {
				// The load ended during the pause: the journey stops
				// there, neither passed nor failed.
				return
			}
			now := time.Now()
			paused += now.Sub(from)
			from = now
		}
		headers[g.traceKey] = tp.next()
		out := st.Run(ctx, env, captures)
		end := time.Now()
		if !g.recordStep(j, ji, si, &out, from, end.Sub(from), &sc.result) {
			ok = false
			break
		}
		for k, v := range out.Captures {
			captures[k] = v
		}
		from = end
	}
	g.rec.journey(j.Name, time.Since(begin)-paused, ok)
}

// journeyScratch is what a worker's journeys reuse, one after the other:
// the environment's copy, the captures' and headers' maps (nothing holds
// them after a journey: Run copies the captures into what it evaluates)
// and what the steps' attempts reuse (step.Scratch).
type journeyScratch struct {
	env      step.Env
	captures map[string]cty.Value
	headers  map[string]string
	step     step.Scratch
	result   vegeta.Result
}

// pause waits d, or until ctx ends: it says whether the wait was whole.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}

// recordStep records step si of journey j (the ji-th), begun at from and
// answered in lat, in the recorder and the raw file, and says whether it
// passed: an HTTP step without a status expectation fails on a bad status.
// res is the worker's, filled and handed to the raw file (which copies it).
func (g *generator) recordStep(j *Journey, ji, si int, out *step.Outcome, from time.Time, lat time.Duration, res *vegeta.Result) bool {
	st := j.Steps[si]
	passed := out.Status == result.Passed
	kind := errorKind(*out)
	if st.HTTP != nil && !st.SaysStatus() && out.Code > 0 && badStatus(out.Code) {
		// (the step itself fails on it too)
		passed, kind = false, "status "+itoa(out.Code)
	}
	g.rec.requestKey(g.keys[ji][si], from, lat, passed, out.Code, kind, out.BytesIn, out.BytesOut)
	text := errorText(*out)
	if kind != "" {
		msg := text
		if msg == "" {
			msg = kind
		}
		g.rec.sample(kind, msg)
	}
	g.rec.serverTiming(out.ServerTiming)
	*res = vegeta.Result{Attack: g.attacks[ji][si], Seq: g.seq.Add(1) - 1, Code: uint16(out.Code),
		Timestamp: from, Latency: lat, BytesIn: uint64(out.BytesIn), BytesOut: uint64(out.BytesOut), Error: text}
	g.raw.write(res)
	return passed
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
	return classify(o.Err)
}

// classify names the kind of the error that ended a request, from the
// error itself.
func classify(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "error"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return "error"
}

// errorText is a failed request's error in one line, for the raw file
// and the error samples: the first failed check's name and location and
// the first line of its message (an assert's evaluated error_message, as
// redacted as the step's own output), at most maxErrorText bytes.
func errorText(o step.Outcome) string {
	if o.Status == result.Passed {
		return ""
	}
	head, rest, ok := strings.Cut(o.Message, "\n")
	if ok && strings.HasSuffix(head, ":") {
		line, _, _ := strings.Cut(strings.TrimLeft(rest, " "), "\n")
		if line = strings.TrimSpace(strings.TrimPrefix(line, "Error: ")); line != "" {
			head += " " + line
		}
	}
	if len(head) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !utf8.RuneStart(head[cut]) {
			cut--
		}
		head = head[:cut] + "…"
	}
	return head
}

// maxErrorText bounds a request's error text: the raw file holds one per
// failed request.
const maxErrorText = 240

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
	enc *resultEncoder
	err error
	red rawRedaction
	// seg numbers a generator's results as one generator would have: its
	// k-th hit is the whole load's hit seg.global(k), so the sequence
	// numbers of the generators' files joined are those of one generator.
	seg segment
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
	return &rawWriter{f: f, w: w, enc: newResultEncoder(w), red: rawRedaction{red: red}}, nil
}

func (r *rawWriter) write(res *vegeta.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		res.Seq = r.seg.global(res.Seq)
		r.red.clean(res)
		r.err = r.enc.Encode(res)
	}
}

// flush writes the buffered results to the file (a run killed later
// keeps them).
func (r *rawWriter) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.w.Flush(); err != nil && r.err == nil {
		r.err = err
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

// partEvery is how often a load writes what it has measured so far.
const partEvery = 2 * time.Second

// checkpoints writes, every partEvery while the load runs, what it has
// measured so far as a part of the suite (a LevelPart record in
// results.jsonl, its totals only: a part's size does not grow with the
// load) and flushes the raw results to the file: a run killed with
// kill -9 keeps both, and `cloudtest report` shows the figures up to the
// last part. The returned function stops it.
func (g *generator) checkpoints(renv *runner.Env, raw *rawWriter, rawRel, target string) func() {
	start := g.rec.start
	write := func() {
		// The totals, then the raw file flushed: a request is recorded,
		// then written to the raw file, so the file then holds (all but
		// at most the few in between of) those the totals count.
		sum := g.s.unfinished(g.rec, time.Since(start), target)
		raw.flush()
		sum.Raw = filepath.ToSlash(rawRel)
		g.s.recordPart(renv, sum)
	}
	n := 0
	stop := everySecond(func() {
		if n++; time.Duration(n)*time.Second%partEvery == 0 {
			write()
		}
	})
	return func() {
		stop()
		write() // the load's last figures, before the suite's own result
	}
}

// unfinished is the summary of a load still running, elapsed into it, from
// rec's totals so far: a part of the suite.
func (s *Suite) unfinished(rec *recorder, elapsed time.Duration, target string) result.LoadSummary {
	overall, journeys, steps := rec.partial(min(elapsed, max(s.Load.Duration, time.Millisecond)))
	model := "closed"
	if s.Load.Rate > 0 {
		model = "open"
	}
	return result.LoadSummary{Unfinished: true, Model: model, TPSCounts: tpsCounts, TargetRate: s.Load.Rate, Concurrency: s.Load.Concurrency,
		DurationS: elapsed.Seconds(), Overall: overall, Journeys: journeys, Steps: steps, Target: target}
}

// recordPart writes sum as a part of the suite in results.jsonl.
func (s *Suite) recordPart(renv *runner.Env, sum result.LoadSummary) {
	if data, err := json.Marshal(sum); err == nil {
		renv.RecordPart(data)
	}
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
