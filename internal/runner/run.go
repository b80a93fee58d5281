package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/step"
	"github.com/cloudtest/cloudtest/internal/target"
)

// Options control one run.
type Options struct {
	// OutDir is where run directories are created (default "out").
	OutDir string
	// RunID names the run directory; a time-based id is made when empty.
	RunID string
	// Parallel is how many suites run at once (default 1).
	Parallel int
	Version  string
	Source   string
	Progress Progress
	// Baseline is an earlier run directory that suites compare with
	// (performance regression).
	Baseline string
	// MetricsRemoteWrite is a Prometheus remote-write URL for the live
	// figures of performance suites.
	MetricsRemoteWrite string
	// Now is the clock (tests may fix it).
	Now func() time.Time
}

// Env is what a running suite gets from the runner.
type Env struct {
	RunID string
	// Dir is the run directory; a suite may write files below it (load/, journals).
	Dir    string
	Config *config.Config
	// Target is the suite's own target (nil when the suite names none).
	Target *target.Instance
	// Targets are all started targets by name.
	Targets map[string]*target.Instance
	// Baseline is the run directory to compare with, or "".
	Baseline string
	// MetricsRemoteWrite is the run's --metrics-remote-write URL, or "".
	MetricsRemoteWrite string

	suite    *config.SuiteCommon
	rec      *Recorder
	progress Progress
	now      func() time.Time
}

// Suite returns the common attributes of the running suite.
func (e *Env) Suite() *config.SuiteCommon { return e.suite }

// Record appends a result, filling in the suite's name, kind, component and
// the time when they are not set.
func (e *Env) Record(r result.Result) {
	if r.Time.IsZero() {
		r.Time = e.now()
	}
	if r.Suite == "" {
		r.Suite = e.suite.Name
	}
	if r.Kind == "" {
		r.Kind = e.suite.Kind
	}
	if r.Component == "" {
		r.Component = e.suite.Component
	}
	if len(r.Components) == 0 && len(e.suite.Components) > 1 {
		r.Components = e.suite.Components
	}
	e.rec.Write(r)
	e.progress.Result(r)
}

// RecordPart appends a part of what the running suite has measured so far
// (a result.LevelPart record with data as its Data): a run killed before
// the suite ends keeps it. Parts are not shown as progress.
func (e *Env) RecordPart(data json.RawMessage) {
	e.rec.Write(result.Result{Time: e.now(), Suite: e.suite.Name, Kind: e.suite.Kind, Component: e.suite.Component,
		Level: result.LevelPart, Data: data})
}

// URLs are the started targets' URLs by name.
func (e *Env) URLs() map[string]string {
	urls := make(map[string]string, len(e.Targets))
	for name, inst := range e.Targets {
		urls[name] = inst.URL
	}
	return urls
}

// Status sets the running suite's live status line.
func (e *Env) Status(text string) {
	e.progress.Status(e.suite.Name, text)
}

// Logf reports progress text about the running suite.
func (e *Env) Logf(format string, args ...any) {
	e.progress.Logf(e.suite.Name, fmt.Sprintf(format, args...))
}

// Summary is what Run hands back.
type Summary struct {
	Dir         string
	Run         result.Run
	Interrupted bool
	// Statuses of the suites that finished, by name.
	Statuses map[string]result.Status
}

// NewRunID makes a sortable, unique run id such as 20261124-210102-3fa2.
func NewRunID(now time.Time) string {
	var b [2]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// Run executes the plan. It returns after every started suite has finished
// and every started target has stopped, also when ctx is cancelled (then
// Summary.Interrupted is set). Results are in DIR/results.jsonl whatever
// happens; an error means the run directory itself could not be written.
func Run(ctx context.Context, plan *Plan, opts Options) (*Summary, error) {
	opts = opts.withDefaults()
	dir := filepath.Join(opts.OutDir, opts.RunID)
	if err := os.MkdirAll(filepath.Join(dir, "targets"), 0o755); err != nil {
		return nil, fmt.Errorf("creating the run directory: %w", err)
	}
	run := result.Run{
		ID: opts.RunID, Project: plan.Config.Project, Source: opts.Source, Version: opts.Version,
		Started: opts.Now().UTC(), Selection: plan.Selection.describe(), Suites: plan.Planned(),
	}
	if d := plan.Config.Deployment; d != nil {
		run.Deployment = d.Mode
	}
	if err := writeRun(dir, run); err != nil {
		return nil, err
	}
	rec, err := OpenRecorder(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("opening results: %w", err)
	}
	sum := &Summary{Dir: dir, Statuses: map[string]result.Status{}}

	targets, targetErr, err := startTargets(ctx, plan, opts, dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, name := range plan.Targets {
			if inst := targets[name]; inst != nil {
				inst.Stop()
			}
		}
	}()

	sched := &scheduler{
		plan: plan, opts: opts, dir: dir, rec: rec, targets: targets, targetErr: targetErr,
		done: map[string]chan struct{}{}, status: sum.Statuses,
	}
	sched.run(ctx)

	run.Finished = opts.Now().UTC()
	run.Interrupted = ctx.Err() != nil
	sum.Interrupted = run.Interrupted
	sum.Run = run
	return sum, errors.Join(rec.Close(), writeRun(dir, run))
}

// withDefaults fills in the options the caller left out.
func (opts Options) withDefaults() Options {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OutDir == "" {
		opts.OutDir = "out"
	}
	if opts.Parallel < 1 {
		opts.Parallel = 1
	}
	if opts.Progress == nil {
		opts.Progress = nopProgress{}
	}
	if opts.RunID == "" {
		opts.RunID = NewRunID(opts.Now())
	}
	return opts
}

// startTargets starts the plan's targets, before any suite: those that
// cannot start are in targetErr (their suites error), redacted.
func startTargets(ctx context.Context, plan *Plan, opts Options, dir string) (targets map[string]*target.Instance, targetErr map[string]error, err error) {
	// The targets' directory is resolved once, against the directory
	// cloudtest was started in: a process target runs in its suite's
	// directory, where a relative --out means something else. The run's
	// own paths stay as the user gave them, for the messages.
	workDir, err := filepath.Abs(filepath.Join(dir, "targets"))
	if err != nil {
		return nil, nil, fmt.Errorf("resolving the run directory: %w", err)
	}
	// Targets start before any suite and stop after the last one.
	targets, targetErr = map[string]*target.Instance{}, map[string]error{}
	// A target's log and its errors (which quote its command line and its
	// last output) hold what it was started with: sensitive values too.
	secrets := plan.Config.SensitiveValues()
	redactor := step.NewRedactor(secrets)
	topts := target.Options{BaseDir: plan.Config.Dir, WorkDir: workDir}
	if len(secrets) > 0 {
		topts.Redact = redactor.String
		for _, s := range secrets {
			topts.Longest = max(topts.Longest, len(s))
		}
	}
	for _, name := range plan.Targets {
		if ctx.Err() != nil {
			break
		}
		opts.Progress.Logf("", "starting target "+name)
		inst, err := target.Start(ctx, plan.Config.Targets[name], topts)
		if err != nil {
			err = errors.New(redactor.String(err.Error()))
			targetErr[name] = err
			opts.Progress.Logf("", fmt.Sprintf("target %s could not start: %v", name, err))
			continue
		}
		targets[name] = inst
	}
	return targets, targetErr, nil
}

type scheduler struct {
	plan      *Plan
	opts      Options
	dir       string
	rec       *Recorder
	targets   map[string]*target.Instance
	targetErr map[string]error

	mu     sync.Mutex
	done   map[string]chan struct{}
	status map[string]result.Status
}

// run starts suites in plan order: each waits for the suites it depends
// on (placed before it by the plan) and for a free slot, so that with one
// slot the suites run exactly in plan order.
func (s *scheduler) run(ctx context.Context) {
	for _, st := range s.plan.Suites {
		s.done[st.Common().Name] = make(chan struct{})
	}
	sem := make(chan struct{}, s.opts.Parallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, st := range s.plan.Suites {
		c := st.Common()
		for _, d := range c.DependsOn {
			if ch, ok := s.done[d]; ok {
				select {
				case <-ch:
				case <-ctx.Done():
					return
				}
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if ctx.Err() != nil {
			<-sem
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer close(s.done[c.Name])
			s.runSuite(ctx, st)
		}()
	}
}

func (s *scheduler) runSuite(ctx context.Context, st Suite) {
	c := st.Common()
	env := &Env{
		RunID: s.opts.RunID, Dir: s.dir, Config: s.plan.Config, Target: s.targets[c.Target],
		Targets: s.targets, Baseline: s.opts.Baseline, MetricsRemoteWrite: s.opts.MetricsRemoteWrite, suite: c, rec: s.rec, progress: s.opts.Progress, now: s.opts.Now,
	}
	start := s.opts.Now()
	s.opts.Progress.SuiteStarted(c)
	out := func() Outcome {
		for _, d := range c.DependsOn {
			s.mu.Lock()
			ds := s.status[d]
			s.mu.Unlock()
			if ds != result.Passed {
				return Outcome{Status: result.Skipped, Message: fmt.Sprintf("not run: suite %q, which this suite depends on, did not pass", d)}
			}
		}
		for _, t := range append([]string{c.Target}, c.UsesTargets...) {
			if t == "" {
				continue
			}
			if err := s.targetErr[t]; err != nil {
				return Outcome{Status: result.Errored, Message: fmt.Sprintf("target %q could not start: %v", t, err)}
			}
			if s.targets[t] == nil {
				return Outcome{Status: result.Skipped, Message: fmt.Sprintf("not run: target %q was not started (the run was interrupted)", t)}
			}
		}
		sctx, cancel := ctx, context.CancelFunc(func() {})
		if c.Timeout > 0 {
			sctx, cancel = context.WithTimeout(ctx, c.Timeout)
		}
		defer cancel()
		o := safeRun(sctx, st, env)
		switch {
		case ctx.Err() != nil:
			o.Status = result.Skipped
			o.Message = joinMsg("interrupted before the suite finished; the results recorded so far are kept", o.Message)
		case sctx.Err() == context.DeadlineExceeded && o.Status != result.Failed:
			o.Status = result.Errored
			o.Message = joinMsg(fmt.Sprintf("the suite did not finish within its timeout of %s", c.Timeout), o.Message)
		}
		return o
	}()
	dur := s.opts.Now().Sub(start)
	env.Record(result.Result{
		Level: result.LevelSuite, Status: out.Status, Message: out.Message,
		DurationMS: result.MS(dur), Location: config.Location(c.DeclRange), Data: out.Data,
	})
	s.rec.Sync()
	s.mu.Lock()
	s.status[c.Name] = out.Status
	s.mu.Unlock()
	s.opts.Progress.SuiteFinished(c, out.Status, dur, out.Message)
}

// safeRun keeps a panic in a suite from taking the whole run down: it is
// recorded as the suite's error and the other suites go on.
func safeRun(ctx context.Context, st Suite, env *Env) (o Outcome) {
	defer func() {
		if r := recover(); r != nil {
			o = Outcome{Status: result.Errored, Message: fmt.Sprintf("internal error in the %s suite runner: %v (please report this)", st.Common().Kind, r)}
		}
	}()
	return st.Run(ctx, env)
}

func joinMsg(a, b string) string {
	if b == "" {
		return a
	}
	return a + "\n" + b
}

func writeRun(dir string, run result.Run) error {
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "run.json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing run.json: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, "run.json"))
}
