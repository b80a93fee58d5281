package reliability

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/fault"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/step"
)

// cleanupGrace bounds the removal of faults after an interrupt: it runs
// even then, but must not keep the user waiting long.
const cleanupGrace = 30 * time.Second

// Run carries out the experiment: setup, steady state, the window with its
// probes, writes and faults, removal of every fault, steady state again,
// read-back of the ledger, and the objectives. Every fault is removed on
// every path out of Run, interrupts included.
func (s *Suite) Run(ctx context.Context, env *runner.Env) runner.Outcome {
	exp := s.newExperiment(env)
	finish := func(st result.Status, msg string) runner.Outcome {
		data, _ := json.Marshal(exp)
		return runner.Outcome{Status: st, Message: msg, Data: data}
	}
	lab, closeLab, err := s.openLab(ctx, env)
	if err != nil {
		return finish(result.Errored, fmt.Sprintf("preparing the faults: %v", err))
	}
	defer closeLab()
	urls := env.URLs()
	for name := range urls {
		if u := lab.URL(name); u != "" {
			urls[name] = u
		}
	}
	senv, err := step.NewEnv(env.Config, urls, s.Target)
	if err != nil {
		return finish(result.Errored, err.Error())
	}
	defer senv.Close()

	captures := map[string]cty.Value{}
	if st, msg := runSteps(ctx, env, senv, "setup", s.Setup, captures); st != result.Passed {
		return finish(st, "setup: "+msg)
	}
	if st, msg := runSteps(ctx, env, senv, "steady state before the faults", s.SteadyState, captures); st != result.Passed {
		return finish(st, "the steady state did not hold before any fault was injected, so none was: "+msg)
	}

	x := &experiment{suite: s, env: env, senv: senv, lab: lab, exp: exp, captures: captures}
	x.run(ctx)
	var problems []string
	var led *result.Ledger
	if ctx.Err() == nil {
		if st, msg := runSteps(ctx, env, senv, "steady state after recovery", s.SteadyState, captures); st != result.Passed {
			problems = append(problems, "the steady state did not return after the faults: "+msg)
		}
		led = x.readBack(ctx)
	}
	if ctx.Err() != nil {
		return finish(s.interrupted(ctx, x, closeLab))
	}

	x.summarize(led)
	status, msg := s.verdict(exp, problems)
	if err := closeLab(); err != nil {
		status, msg = result.Errored, joinMsg(fmt.Sprintf("some faults could not be removed (%v): run `cloudtest recover %s`", err, env.Dir), msg)
	}
	env.Record(result.Result{Level: result.LevelCase, Case: "experiment", Status: status, Message: msg,
		DurationMS: exp.WindowS * 1000, Location: config.Location(s.DeclRange)})
	return finish(status, msg)
}

// newExperiment is the record of the experiment before it starts: its
// settings and its planned faults.
func (s *Suite) newExperiment(env *runner.Env) *result.Experiment {
	exp := &result.Experiment{
		Target: s.Target, WindowS: s.Window.Seconds(),
		ProbeEveryMS: result.MS(s.Probe.Every), RecoveredAfter: s.Probe.RecoveredAfter,
	}
	if c := env.Config.Deployment.Component(s.Component); c != nil {
		exp.Tier = c.Tier
	}
	for _, f := range s.Faults {
		exp.Faults = append(exp.Faults, result.FaultRecord{Name: f.Name, Action: f.Action, Kind: f.Kind,
			Engine: f.Engine, Target: f.Target, Location: config.Location(f.DeclRange)})
	}
	return exp
}

// openLab opens the suite's faults. closeLab removes whatever is still
// injected and stops the proxies; it runs before the outcome is made (so a
// fault left in place makes the suite an error) and once more, deferred,
// on any other way out.
func (s *Suite) openLab(ctx context.Context, env *runner.Env) (*fault.Lab, func() error, error) {
	lab, err := fault.Open(ctx, s.Name, s.Faults, env.Targets, fault.JournalPath(env.Dir, s.Name))
	if err != nil {
		return nil, nil, err
	}
	closeLab := func() error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupGrace)
		defer cancel()
		err := lab.Close(cctx)
		if err != nil {
			env.Logf("removing the faults: %v (run `cloudtest recover %s`)", err, env.Dir)
		}
		return err
	}
	return lab, closeLab, nil
}

// interrupted records and returns the outcome of an experiment that Ctrl-C
// or the suite's timeout cut short.
func (s *Suite) interrupted(ctx context.Context, x *experiment, closeLab func() error) (result.Status, string) {
	x.exp.Interrupted = true
	x.summarize(nil)
	why := "interrupted during the experiment"
	if ctx.Err() == context.DeadlineExceeded {
		why = fmt.Sprintf("the suite's timeout (%s) passed during the experiment", s.Timeout)
	}
	status, msg := result.Skipped, why+"; every fault was removed and the measurements so far are kept"
	if err := closeLab(); err != nil {
		status, msg = result.Errored, fmt.Sprintf("%s; some faults could not be removed (%v): run `cloudtest recover %s`", why, err, x.env.Dir)
	}
	x.env.Record(result.Result{Level: result.LevelCase, Case: "experiment", Status: status, Message: msg, DurationMS: x.exp.WindowS * 1000})
	return status, msg
}

// verdict judges a finished experiment: its objectives, its faults (an
// error, or a planned one never injected) and an abort, after problems
// already found.
func (s *Suite) verdict(exp *result.Experiment, problems []string) (result.Status, string) {
	exp.Objectives = s.objectives(exp)
	for _, o := range exp.Objectives {
		if !o.Passed {
			problems = append(problems, fmt.Sprintf("%s %s, measured %s", strings.ToUpper(o.Name), o.Limit, o.Measured))
		}
	}
	var notInjected []string
	for i, f := range exp.Faults {
		if f.Error != "" {
			problems = append(problems, fmt.Sprintf("fault %q: %s", f.Name, f.Error))
		} else if i < len(s.Faults) && !f.Injected && exp.Aborted == "" {
			// A planned fault the window ended before: the experiment did
			// not test what the suite says, so it cannot pass.
			notInjected = append(notInjected, fmt.Sprintf("fault %q was planned at %s but never injected", f.Name, s.Faults[i].After))
		}
	}
	problems = append(problems, notInjected...)
	if exp.Aborted != "" {
		problems = append(problems, "aborted: "+exp.Aborted)
	}
	status, msg := result.Passed, ""
	if len(problems) > 0 {
		status, msg = result.Failed, strings.Join(problems, "; ")
	}
	if len(notInjected) > 0 {
		status = result.Errored
	}
	return status, msg
}

// experiment is the state of one run of the window.
type experiment struct {
	suite    *Suite
	env      *runner.Env
	senv     *step.Env
	lab      *fault.Lab
	exp      *result.Experiment
	captures map[string]cty.Value
	start    time.Time

	mu       sync.Mutex
	probes   []result.Probe // in the order they ended
	inFlight int
	writes   []write
	// cutMS is when the run was interrupted, from the start (0: it was not).
	cutMS float64

	// What the parts have carried so far (see parts.go).
	partProbes, partWrites int
}

// write is one write of the ledger: its sequence number, whether it was
// acknowledged and when, and what the write step captured.
type write struct {
	seq      int
	acked    bool
	ackedMS  float64
	captures map[string]cty.Value
}

func (x *experiment) since() float64 { return result.MS(time.Since(x.start)) }

// run drives the window: the probe and the ledger run in their own loops
// while this one injects and removes faults on schedule and watches the
// abort condition. Whatever happens, every fault is removed before it
// returns.
func (x *experiment) run(ctx context.Context) {
	s := x.suite
	x.writeHeader()
	x.start = time.Now()
	wctx, cancel := context.WithDeadline(ctx, x.start.Add(s.Window))
	defer cancel()
	stopCut := context.AfterFunc(ctx, func() {
		x.mu.Lock()
		x.cutMS = x.since()
		x.mu.Unlock()
	})
	defer stopCut()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); x.probeLoop(ctx) }()
	if s.Ledger != nil {
		wg.Add(1)
		go func() { defer wg.Done(); x.ledgerLoop(wctx) }()
	}
	// The parts go from this goroutine, which alone changes the faults'
	// records.
	parts := time.NewTicker(partEvery)
	defer parts.Stop()
	x.schedule(ctx, wctx, parts)
	// Every fault still active goes now: at the end of its schedule, on
	// abort and on interrupt alike.
	for i := range s.Faults {
		x.remove(ctx, i)
	}
	x.writePart()
	// After the last fault (or an abort) the probes and writes go on to
	// the end of the window, so that the recovery is measured.
	for wctx.Err() == nil {
		select {
		case <-wctx.Done():
		case <-parts.C:
			x.writePart()
		}
	}
	wg.Wait()
	x.writePart()
}

// A faultEvent is one injection or removal of the schedule.
type faultEvent struct {
	at     time.Duration
	i      int
	inject bool
}

// faultEvents are the injections and removals of the suite's faults in
// time order, removals before injections at the same instant.
func (s *Suite) faultEvents() []faultEvent {
	var events []faultEvent
	for i, f := range s.Faults {
		events = append(events, faultEvent{at: f.After, i: i, inject: true})
		if !f.OneShot() {
			events = append(events, faultEvent{at: f.After + f.Duration, i: i})
		}
	}
	sortEvents(events)
	return events
}

// sortEvents puts events in time order, removals before injections at the
// same instant.
func sortEvents(events []faultEvent) {
	slices.SortStableFunc(events, func(a, b faultEvent) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(boolInt(a.inject), boolInt(b.inject))
	})
}

// schedule carries out the faults' events at their times until the last,
// the end of the window (wctx) or an abort, writing parts as it goes.
func (x *experiment) schedule(ctx, wctx context.Context, parts *time.Ticker) {
	events := x.suite.faultEvents()
	tick := time.NewTicker(x.suite.Probe.Every)
	defer tick.Stop()
	for len(events) > 0 {
		next := events[0]
		timer := time.NewTimer(time.Until(x.start.Add(next.at)))
		select {
		case <-wctx.Done():
			timer.Stop()
			return
		case <-parts.C:
			timer.Stop()
			x.writePart()
			continue
		case <-tick.C:
			timer.Stop()
			if why := x.shouldAbort(); why != "" {
				x.exp.Aborted = why
				return
			}
			continue
		case <-timer.C:
		}
		events = events[1:]
		if next.inject {
			x.inject(ctx, wctx, next.i)
			events = x.fromInjection(events, next.i)
		} else if x.exp.Faults[next.i].Injected {
			x.remove(ctx, next.i)
		}
		x.writePart()
	}
}

// fromInjection moves the removal of fault i, just injected, to its
// duration after it took hold when that is later than planned: a fault
// whose injection was slow (a loaded machine, a Chaos Mesh that applied it
// late, which itself recovers it a duration after its Apply) is in place
// for as long as the suite asked, not for what was left of it.
func (x *experiment) fromInjection(events []faultEvent, i int) []faultEvent {
	rec, spec := &x.exp.Faults[i], x.suite.Faults[i]
	if !rec.Injected || spec.OneShot() {
		return events
	}
	end := time.Duration(rec.InjectedMS*float64(time.Millisecond)) + spec.Duration
	for j := range events {
		if events[j].i == i && !events[j].inject && events[j].at < end {
			events[j].at = end
		}
	}
	sortEvents(events)
	return events
}

// inject injects the suite's fault i and records when it took hold, or
// why it did not (removing at once what was applied before the error).
func (x *experiment) inject(ctx, wctx context.Context, i int) {
	spec, rec := x.suite.Faults[i], &x.exp.Faults[i]
	rec.InjectedMS = x.since()
	if err := x.lab.Inject(wctx, spec); err != nil {
		rec.Error = "could not be injected: " + err.Error()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupGrace)
		defer cancel()
		if err := x.lab.Remove(rctx, spec); err != nil {
			rec.Error += "; what was applied could not be removed: " + err.Error()
		}
		return
	}
	rec.Injected = true
	if at, ok := x.lab.InjectedAt(spec); ok {
		rec.InjectedMS = result.MS(at.Sub(x.start)) // when the engine saw it take hold
	}
	x.env.Logf("fault %q (%s) injected at %.1f s", spec.Name, spec.Action, rec.InjectedMS/1000)
	if spec.OneShot() {
		// A one-shot fault (a kill) is over once carried out.
		rec.Removed, rec.RemovedMS = true, rec.InjectedMS
	}
}

// remove takes fault i away if it is active; it runs even when ctx is
// cancelled, within cleanupGrace.
func (x *experiment) remove(ctx context.Context, i int) {
	rec, spec := &x.exp.Faults[i], x.suite.Faults[i]
	oneShot := spec.OneShot()
	if !rec.Injected || (rec.Removed && !oneShot) {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupGrace)
	defer cancel()
	// A one-shot fault (a kill) has nothing left to undo, but the engine
	// is told all the same, in case it keeps something.
	if err := x.lab.Remove(rctx, spec); err != nil {
		rec.Error = joinMsg(rec.Error, "could not be removed: "+err.Error())
		return
	}
	if !oneShot {
		rec.Removed, rec.RemovedMS = true, x.since()
		x.env.Logf("fault %q removed at %.1f s", rec.Name, rec.RemovedMS/1000)
	}
}

// shouldAbort says why the faults must end early: the share of failed
// probes over the last window passed the limit.
func (x *experiment) shouldAbort() string {
	a := x.suite.AbortWhen
	if a == nil {
		return ""
	}
	now := x.since()
	from := now - result.MS(a.Window)
	if from < 0 {
		return "" // not a whole window yet
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	n, failed := 0, 0
	for i := len(x.probes) - 1; i >= 0 && x.probes[i].AtMS >= from; i-- {
		n++
		if !x.probes[i].OK {
			failed++
		}
	}
	if n < 3 {
		return ""
	}
	if r := float64(failed) / float64(n); r > a.ErrorRatio {
		return fmt.Sprintf("%d of the %d probes of the last %s failed (%.0f %%, limit %.0f %%); the faults were removed at %.1f s",
			failed, n, a.Window, r*100, a.ErrorRatio*100, now/1000)
	}
	return ""
}

// probeLoop sends a probe every Every from the start of the window to its
// end, each on its own schedule: a probe that waits for a hung target
// does not hold back the ones due after it, so every probe due while the
// target hangs sees it. The probes answer to ctx (an interrupt), not to
// the window's end: one sent just before the end still gets its answer or
// its timeout. At most Timeout/Every + 1 wait at once (each gives up at
// its timeout); a probe due when that many still wait, because a step
// overran its timeout, is recorded as failed, not sent.
func (x *experiment) probeLoop(ctx context.Context) {
	p := x.suite.Probe
	limit := int((p.Timeout+p.Every-1)/p.Every) + 1
	slots := make(chan struct{}, limit)
	senv := *x.senv
	senv.Lean = true
	var wg sync.WaitGroup
	defer wg.Wait()
	end := x.start.Add(x.suite.Window)
	for i := 0; ; i++ {
		due := x.start.Add(time.Duration(i) * p.Every)
		if !due.Before(end) {
			return
		}
		if wait := time.Until(due); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			pr := result.Probe{DueMS: result.MS(due.Sub(x.start)), AtMS: x.since(),
				Error: fmt.Sprintf("not sent: %d probes were still waiting for an answer", limit)}
			pr.LatencyMS = pr.AtMS - pr.DueMS
			x.addProbe(pr)
			continue
		}
		x.mu.Lock()
		x.inFlight++
		x.exp.ProbesInFlightMax = max(x.exp.ProbesInFlightMax, x.inFlight)
		x.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			x.probe(ctx, &senv, due)
			x.mu.Lock()
			x.inFlight--
			x.mu.Unlock()
			<-slots
		}()
	}
}

// probe sends one probe due at due and records it. A probe still waiting
// when the run is interrupted failed: the target had not answered by then,
// and the outage it saw lasts until the interrupt.
func (x *experiment) probe(ctx context.Context, senv *step.Env, due time.Time) {
	p := x.suite.Probe
	pctx, cancel := context.WithDeadline(ctx, due.Add(p.Timeout))
	out := p.Step.Run(pctx, senv, x.captures)
	cancel()
	dueMS := result.MS(due.Sub(x.start))
	pr := result.Probe{DueMS: dueMS, AtMS: x.since(), OK: out.Status == result.Passed}
	pr.LatencyMS = pr.AtMS - dueMS
	if !pr.OK {
		switch {
		case ctx.Err() != nil:
			pr.Error = fmt.Sprintf("no answer when the run was interrupted, %s after it was sent", roundMS(pr.LatencyMS))
		case pctx.Err() == context.DeadlineExceeded:
			pr.Error = fmt.Sprintf("no answer within %s", p.Timeout)
		default:
			pr.Error = brief(out.Message)
		}
	}
	x.addProbe(pr)
}

func (x *experiment) addProbe(pr result.Probe) {
	x.mu.Lock()
	x.probes = append(x.probes, pr)
	x.mu.Unlock()
}

// ledgerLoop writes record 1, 2, 3… every Every until ctx ends.
func (x *experiment) ledgerLoop(ctx context.Context) {
	l := x.suite.Ledger
	tick := time.NewTicker(l.Every)
	defer tick.Stop()
	senv := *x.senv
	senv.Lean = true
	for seq := 1; ; seq++ {
		senv.Vars = map[string]cty.Value{ledgerRoot: cty.ObjectVal(map[string]cty.Value{"seq": cty.NumberIntVal(int64(seq))})}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.Timeout)
		out := l.Write.Run(wctx, &senv, x.captures)
		cancel()
		w := write{seq: seq, acked: out.Status == result.Passed, captures: out.Captures}
		if w.acked {
			w.ackedMS = x.since()
		}
		x.mu.Lock()
		x.writes = append(x.writes, w)
		x.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// readBack reads every acknowledged write back after the window; a read
// that fails its checks means the write is lost, one that cannot be
// carried out (no connection) leaves it unverified.
func (x *experiment) readBack(ctx context.Context) *result.Ledger {
	if x.suite.Ledger == nil {
		return nil
	}
	led := &result.Ledger{Written: len(x.writes)}
	senv := *x.senv
	senv.Lean = true
	lastPos, hasLast := 0.0, false
	ids := map[string]int{}
	for _, w := range x.writes {
		if !w.acked {
			continue
		}
		led.Acknowledged++
		lw := result.LedgerWrite{Seq: w.seq, AckedMS: w.ackedMS}
		if id, ok := canonicalID(w.captures["id"]); ok {
			lw.ID = id
			if first, dup := ids[lw.ID]; dup {
				lw.Message = fmt.Sprintf("the same id as write %d", first)
				led.Duplicates = append(led.Duplicates, lw)
			}
			ids[lw.ID] = w.seq
		}
		out := x.readOne(ctx, &senv, w)
		switch out.Status {
		case result.Passed:
			led.Verified++
		case result.Failed:
			lw.Message = brief(out.Message)
			led.Lost = append(led.Lost, lw)
			continue
		default:
			lw.Message = brief(out.Message)
			led.Unverified = append(led.Unverified, lw)
			continue
		}
		// A read that captures position lets the order be checked.
		if p, ok := out.Captures["position"]; ok && p.Type() == cty.Number && p.IsKnown() && !p.IsNull() {
			pos, _ := p.AsBigFloat().Float64()
			if hasLast && pos == lastPos {
				lw.Message = fmt.Sprintf("at position %g, like the write before it", pos)
				led.Duplicates = append(led.Duplicates, lw)
			} else if hasLast && pos < lastPos {
				lw.Message = fmt.Sprintf("at position %g, before an earlier write's %g", pos, lastPos)
				led.OutOfOrder = append(led.OutOfOrder, lw)
			}
			lastPos, hasLast = max(lastPos, pos), true
		}
	}
	return led
}

// readOne reads back one acknowledged write, trying an errored read twice
// more. Not under cleanup's context: Ctrl-C ends it, and each read has its
// own timeout, so a long window's thousands of writes are all read.
func (x *experiment) readOne(ctx context.Context, senv *step.Env, w write) step.Outcome {
	l := x.suite.Ledger
	vals := map[string]cty.Value{"seq": cty.NumberIntVal(int64(w.seq))}
	for k, v := range w.captures {
		vals[k] = v
	}
	senv.Vars = map[string]cty.Value{ledgerRoot: cty.ObjectVal(vals)}
	var out step.Outcome
	for attempt := 0; attempt < 3; attempt++ {
		actx, acancel := context.WithTimeout(ctx, l.Timeout)
		out = l.Read.Run(actx, senv, x.captures)
		acancel()
		if out.Status != result.Errored || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return out
}

// summarize computes the measurements from the probes and the ledger.
func (x *experiment) summarize(led *result.Ledger) {
	exp := x.exp
	x.mu.Lock()
	exp.Probes = slices.Clone(x.probes)
	cut := x.cutMS
	x.mu.Unlock()
	if cut > 0 && cut < exp.WindowS*1000 {
		// Interrupted: the window is what was seen of it.
		exp.WindowS = cut / 1000
	}
	x.measure(exp)
	if led != nil {
		led.RPOS = rpoMS(led.Lost, exp.Faults, exp.WindowS*1000) / 1000
		exp.Ledger = led
	}
}

// measure computes an experiment's figures from its probes (in any order)
// and faults over its window: the final ones, and those so far that every
// part of a running experiment carries.
func (x *experiment) measure(exp *result.Experiment) {
	// In the order they were due: they end out of order when the target
	// hangs.
	slices.SortStableFunc(exp.Probes, func(a, b result.Probe) int { return cmp.Compare(a.DueMS, b.DueMS) })
	exp.ProbesOK, exp.ProbesFailed = 0, 0
	for _, p := range exp.Probes {
		if p.OK {
			exp.ProbesOK++
		} else {
			exp.ProbesFailed++
		}
	}
	// Availability by time, not by probe count: a probe that waits a
	// second for its timeout stands for a second of outage, not a tenth.
	exp.OutageS = min(outageMS(exp.Probes), exp.WindowS*1000) / 1000
	if exp.WindowS > 0 && len(exp.Probes) > 0 {
		exp.Availability = max(0, 1-exp.OutageS/exp.WindowS)
	}
	if len(x.suite.Faults) == 0 {
		exp.Faults = externalOutage(exp.Probes)
	}
	measureOutages(exp.Faults, exp.Probes, x.suite.Probe.RecoveredAfter)
	exp.Recovered, exp.RTOS = true, 0
	for _, f := range exp.Faults {
		exp.RTOS = max(exp.RTOS, f.RTOMS/1000)
		if f.Injected && !f.Recovered {
			exp.Recovered = false
		}
	}
}

// runSteps runs steps in order, recording each as a step of caseName;
// after a step that does not pass the rest are skipped.
func runSteps(ctx context.Context, env *runner.Env, senv *step.Env, caseName string, steps []*step.Step, captures map[string]cty.Value) (result.Status, string) {
	return step.RunSequence(ctx, senv, steps, captures, func(st *step.Step, out step.Outcome) {
		env.Record(result.Result{Level: result.LevelStep, Case: caseName, Step: st.Name, Status: out.Status,
			DurationMS: result.MS(out.Duration), Message: out.Message, Location: config.Location(st.DeclRange),
			Checks: out.Checks, Exchange: out.Exchange, Attempts: out.Attempts})
	})
}

// brief makes a step's message fit on one line of a table.
func brief(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 240 {
		s = string(r[:240]) + "…"
	}
	return s
}

// joinMsg joins two parts of a message with "; ", either of which may be
// empty ("faults could not be removed" with no other problem ends there).
func joinMsg(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
