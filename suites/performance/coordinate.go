package performance

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
)

// readyTimeout bounds how long the workers may take to load the suites.
const readyTimeout = time.Minute

// startLead is how far ahead of now the common start time is set, so that
// every worker has it before it comes.
const startLead = 300 * time.Millisecond

// overrun is how long after the load's end (and grace) a worker may take
// to finish its requests and write its part before it is killed.
const overrun = time.Minute

// distribute sends the load from Workers generators and merges what they
// measured into one summary, as if one generator had sent it all.
func (s *Suite) distribute(ctx context.Context, renv *runner.Env, target, suffix string) (result.LoadSummary, error) {
	base := filepath.Join("load", fileName(s.Name)+fileName(suffix))
	dir := filepath.Join(renv.Dir, base+".workers")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return result.LoadSummary{}, err
	}
	ws, kf, err := s.startMembers(ctx, renv, target, dir)
	if kf != nil {
		defer kf.close(renv)
	}
	if err != nil {
		return result.LoadSummary{}, err
	}
	defer kill(ws)
	if err := awaitReady(ctx, ws, readyTimeout); err != nil {
		return result.LoadSummary{}, err
	}
	start := time.Now().Add(startLead)
	if err := begin(ws, start); err != nil {
		return result.LoadSummary{}, err
	}
	util, finish := s.sample(renv, target)
	stopLive := s.showProgress(renv, ws, target, start)
	stopParts := s.checkpoints(renv, ws, start, target, filepath.ToSlash(dir))
	s.await(ctx, ws, start)
	stopParts()
	stopLive()
	if u := finish(); u != nil {
		util = u
	}
	sum, err := s.merge(ws, dir, start)
	if err != nil {
		return result.LoadSummary{}, err
	}
	rawRel := base + ".bin"
	if err := concatRaw(filepath.Join(renv.Dir, rawRel), ws, dir); err != nil {
		return result.LoadSummary{}, fmt.Errorf("writing %s: %w", rawRel, err)
	}
	sum.Utilization, sum.Raw, sum.Target = util, filepath.ToSlash(rawRel), target
	if kf != nil {
		sum.Note = sentences(sum.Note, kf.note())
	}
	if s.remoteWriteURL(renv) != "" {
		sum.Note = strings.TrimSpace(sum.Note + " The live figures were not pushed to Prometheus: a load shared among generators does not push them yet.")
	}
	return sum, nil
}

// startMembers starts the generators of a distributed load against target,
// handing each the suite, writing their parts to dir: pods of an Indexed
// Job for runner = "kubernetes" (kf, to be closed even when err is not nil),
// local worker processes otherwise.
func (s *Suite) startMembers(ctx context.Context, renv *runner.Env, target, dir string) (ws []member, kf *kubeFleet, err error) {
	vars, varFiles := handoffVars(renv.Config)
	h := Handoff{Source: handoffSource(renv.Config, varFiles), Vars: vars, VarFiles: varFiles, Suite: s.Name,
		Target: target, URLs: renv.URLs(), RunID: renv.RunID, Of: s.Load.Workers, Dir: dir}
	if s.Load.Runner == "kubernetes" {
		kf, err = s.startKube(ctx, renv, h, target)
		if kf != nil {
			ws = kf.members()
		}
		return ws, kf, err
	}
	ws, err = startLocal(h, dir)
	return ws, nil, err
}

// showProgress shows the requests and errors of the generators ws every
// second, until the function it returns is called.
func (s *Suite) showProgress(renv *runner.Env, ws []member, target string, start time.Time) (stop func()) {
	return everySecond(func() {
		el := time.Since(start)
		var reqs, errs int64
		for _, w := range ws {
			r, e := w.progress()
			reqs, errs = reqs+r, errs+e
		}
		renv.Status(fmt.Sprintf("%s %s/%s on %d generators, %.0f/s, %d errors", target,
			max(el, 0).Round(time.Second), s.Load.Duration, s.Load.Workers, float64(reqs)/max(el.Seconds(), 1), errs))
	})
}

// checkpoints writes, every partEvery while the generators run, the
// totals they last sent merged into a part of the suite (a LevelPart
// record in results.jsonl), as one generator's load does: a coordinator
// killed with kill -9 leaves the figures up to its last part, and each
// generator's raw results in the workers' directory dir (a local one's:
// a pod's are sent only at its end). The returned function stops it.
func (s *Suite) checkpoints(renv *runner.Env, ws []member, start time.Time, target, dir string) (stop func()) {
	n := 0
	return everySecond(func() {
		if n++; time.Duration(n)*time.Second%partEvery != 0 {
			return
		}
		parts := make([]*part, len(ws))
		have := 0
		for i, w := range ws {
			if parts[i] = w.checkpoint(); parts[i] != nil {
				have++
			}
		}
		if have == 0 {
			return
		}
		rec, err := mergeTotals(parts)
		if err != nil {
			return
		}
		sum := s.unfinished(rec, time.Since(start), target)
		sum.Runner = s.Load.Runner
		sum.Note = fmt.Sprintf("The totals of %d of the %d generators, as each last sent them; the raw results of each local generator are in %s.", have, len(ws), dir)
		s.recordPart(renv, sum)
	})
}

// await waits for every worker to end: an interrupted run interrupts them
// (each then stops its load and writes what it measured), and one that
// has not ended well after the load should have is killed.
func (s *Suite) await(ctx context.Context, ws []member, start time.Time) {
	hard := time.NewTimer(time.Until(start.Add(s.Load.Duration + grace + overrun)))
	defer hard.Stop()
	interrupted := false
	for _, w := range ws {
		for waiting := true; waiting; {
			select {
			case <-w.exited():
				waiting = false
			case <-ctx.Done():
				if !interrupted {
					interrupted = true
					interrupt(ws)
				}
				ctx = context.Background()
			case <-hard.C:
				for _, o := range ws {
					select {
					case <-o.exited():
					default:
						o.markOverdue()
					}
				}
				kill(ws)
			}
		}
	}
}

// merge reads the parts of the workers that finished and builds the
// summary of the whole load; the workers that did not are named in
// Generators (Failed), which fails the suite.
func (s *Suite) merge(ws []member, dir string, start time.Time) (result.LoadSummary, error) {
	n := len(ws)
	parts, runs, elapsed := s.generatorRuns(ws, dir)
	rec, err := mergeParts(parts)
	if err != nil {
		return result.LoadSummary{}, err
	}
	g := &generator{s: s, rec: rec}
	model, engine := "closed", "journeys"
	if s.Load.Rate > 0 {
		model = "open"
	}
	var gen *result.Generator
	dry := false
	for _, p := range parts {
		model, engine = p.Model, p.Engine
		dry = dry || p.Dry
		if p.Generator != nil {
			if gen == nil {
				gen = &result.Generator{}
			}
			gen.Due += p.Generator.Due
			gen.Sent += p.Generator.Sent
		}
	}
	if gen != nil {
		secs := s.Load.Duration.Seconds()
		if elapsed > 0 && elapsed < s.Load.Duration { // interrupted: over the time it ran
			secs = elapsed.Seconds()
		}
		gen.DueRate, gen.AchievedRate, gen.MaxWorkers = float64(gen.Due)/secs, float64(gen.Sent)/secs, s.Load.MaxWorkers*n
		gen.WakeDelayMS, gen.Waited, gen.WaitMS = rec.generator()
	}
	note := g.note(gen)
	if dry {
		note = strings.TrimSpace(note + fmt.Sprintf(" The unique feed %s ran out after %d rows; the load stopped there.", s.Feed.File, len(s.Feed.Rows)))
	}
	if elapsed == 0 {
		elapsed = time.Since(start)
	}
	sum := g.summarize(model, engine, gen, elapsed, note)
	sum.Runner, sum.Generators = s.Load.Runner, runs
	return sum, nil
}

// generatorRuns reads the parts the generators ws left in dir and says how
// each one ran, a failed one with why. elapsed is the longest a generator
// ran by its own clock.
func (s *Suite) generatorRuns(ws []member, dir string) (parts []*part, runs []result.GeneratorRun, elapsed time.Duration) {
	n := len(ws)
	runs = make([]result.GeneratorRun, n)
	for i, w := range ws {
		run := result.GeneratorRun{Index: i + 1, Location: w.location(), CPUSeconds: w.cpu().Seconds()}
		if why := w.failure(); why != "" {
			run.Failed = w.name(n) + " " + why
			runs[i] = run
			continue
		}
		p, err := readPart(partFile(dir, i, "json"))
		if err != nil {
			run.Failed = fmt.Sprintf("%s left no readable results: %v", w.name(n), err)
			runs[i] = run
			continue
		}
		parts = append(parts, p)
		if run.CPUSeconds == 0 {
			// A pod's worker measures its own CPU and says it in its part.
			run.CPUSeconds = time.Duration(p.CPUNS).Seconds()
		}
		el := time.Duration(p.ElapsedNS)
		elapsed = max(elapsed, el)
		secs := s.Load.Duration.Seconds()
		run.Requests, run.Errors = p.Overall.Requests, p.Overall.Errors
		run.AchievedRate = float64(journeysOf(p)) / secs
		if g := p.Generator; g != nil {
			run.AchievedRate, run.DueRate = g.AchievedRate, g.DueRate
		}
		if el > 0 {
			run.CPUPercent = run.CPUSeconds / el.Seconds() * 100
		}
		runs[i] = run
	}
	return parts, runs, elapsed
}

// journeysOf is the journeys a part started (the sum over its journeys).
func journeysOf(p *part) int64 {
	var n int64
	for _, j := range p.Journeys {
		n += j.Requests
	}
	return n
}

func readPart(path string) (*part, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p part
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// concatRaw writes the raw results of the workers that finished, one after
// the other, into one file in vegeta's encoding (two gob streams cannot
// simply be joined byte by byte), and removes their own files. The files of
// a worker that did not finish are left beside its log.
func concatRaw(path string, ws []member, dir string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	enc := vegeta.NewEncoder(bw)
	var errs []error
	for i, w := range ws {
		if w.failure() != "" {
			continue
		}
		src := partFile(dir, i, "bin")
		if err := copyResults(enc, src); err != nil {
			errs = append(errs, fmt.Errorf("generator %d: %w", i+1, err))
			continue
		}
		os.Remove(src)
	}
	errs = append(errs, bw.Flush(), f.Close())
	return errors.Join(errs...)
}

func copyResults(enc vegeta.Encoder, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	dec := vegeta.NewDecoder(bufio.NewReaderSize(in, 256<<10))
	for {
		var r vegeta.Result
		if err := dec(&r); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if err := enc(&r); err != nil {
			return err
		}
	}
}

// awaitReady waits until every worker said it is ready (or the run is
// interrupted).
func awaitReady(ctx context.Context, ws []member, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for _, w := range ws {
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted while the %d generators were starting", len(ws))
		case m, ok := <-w.messages():
			switch {
			case ok && m.Ready:
				continue
			case ok && m.Error != "":
				return fmt.Errorf("%s could not start: %s", w.name(len(ws)), m.Error)
			}
			<-w.exited()
			return fmt.Errorf("%s ended before it was ready: %s", w.name(len(ws)), w.failure())
		case <-deadline.C:
			return fmt.Errorf("%s was not ready within %s", w.name(len(ws)), timeout)
		}
	}
	return nil
}

// begin hands every worker the same start time.
func begin(ws []member, start time.Time) error {
	for _, w := range ws {
		if err := w.send(message{Start: start}); err != nil {
			return fmt.Errorf("%s: handing over the start time: %w", w.name(len(ws)), err)
		}
	}
	return nil
}

// interrupt asks every worker still running to stop its load early.
func interrupt(ws []member) {
	for _, w := range ws {
		select {
		case <-w.exited():
		default:
			w.interrupt()
		}
	}
}

// kill ends every worker still running and waits for them.
func kill(ws []member) {
	for _, w := range ws {
		select {
		case <-w.exited():
		default:
			w.kill()
		}
	}
	for _, w := range ws {
		<-w.exited()
	}
}

// sentences joins two notes, each a sentence.
func sentences(a, b string) string {
	a = strings.TrimSpace(a)
	if a != "" && !strings.HasSuffix(a, ".") {
		a += "."
	}
	return strings.TrimSpace(a + " " + b)
}
