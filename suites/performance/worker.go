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
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/step"
)

// Handoff is what the coordinating `cloudtest run` hands a generator
// worker, as one JSON line on the worker's standard input (never on its
// command line nor on disk: variables may be secrets). The worker loads
// the same suites with the same variables, and sends its share of the
// load against the URLs the coordinator's targets run at.
type Handoff struct {
	// Source is the file or directory the suites are loaded from; Vars and
	// VarFiles give the variables the values they had in the coordinator.
	Source   string   `json:"source"`
	Vars     []string `json:"vars,omitempty"`
	VarFiles []string `json:"var_files,omitempty"`
	Suite    string   `json:"suite"`
	// Target is the target the load goes to (the suite's, or compare).
	Target string            `json:"target"`
	URLs   map[string]string `json:"urls"`
	RunID  string            `json:"run_id"`
	// Index is this worker's number from 0, of Of.
	Index int `json:"index"`
	Of    int `json:"of"`
	// Dir receives <index>.json (the part) and <index>.bin (raw results).
	Dir string `json:"dir"`
	// Stream: after its done line the worker also writes the part and the
	// raw results on its standard output, each after a {"file":…,"size":N}
	// line (a pod's worker: the coordinator has no access to its disk).
	Stream bool `json:"stream,omitempty"`
}

// message is a line between coordinator and worker: the worker says it is
// ready (or why not) and when it is done; the coordinator gives the start.
type message struct {
	Ready bool      `json:"ready,omitempty"`
	Error string    `json:"error,omitempty"`
	Start time.Time `json:"start,omitzero"`
	Done  bool      `json:"done,omitempty"`
	// Progress, once a second while the load runs: requests and errors so
	// far, and the totals so far (Totals: the recorder's overall, journey
	// and step statistics, mergeable), which the coordinator merges into a
	// part of the suite in results.jsonl every partEvery.
	Progress bool  `json:"progress,omitempty"`
	Requests int64 `json:"requests,omitempty"`
	Errors   int64 `json:"errors,omitempty"`
	Totals   *part `json:"totals,omitempty"`
	// Stop, from the coordinator: end the load now and write what was
	// measured (a pod cannot be sent SIGINT over the API server).
	Stop bool `json:"stop,omitempty"`
	// File and Size frame a file that follows the line (Handoff.Stream).
	File string `json:"file,omitempty"`
	Size int64  `json:"size,omitempty"`
}

// ServeWorker is a generator worker (`cloudtest worker`): it reads the
// handoff from in, loads the suites with load, says on out that it is
// ready, waits for the start time the coordinator sends to every worker,
// sends its share of the load from then, and writes its part and raw
// results. ctx ends the load early (the coordinator interrupts it).
func ServeWorker(ctx context.Context, in io.Reader, out io.Writer, load func(Handoff) (*config.Config, error)) error {
	lines := bufio.NewScanner(in)
	lines.Buffer(make([]byte, 64<<10), 16<<20)
	enc := json.NewEncoder(out)
	h, err := readHandoff(lines)
	if err != nil {
		return err
	}
	w, err := prepareWorker(h, load)
	if err != nil {
		enc.Encode(message{Error: err.Error()})
		return err
	}
	defer w.close()
	if err := enc.Encode(message{Ready: true}); err != nil {
		return err
	}
	var m message
	if !lines.Scan() || json.Unmarshal(lines.Bytes(), &m) != nil || m.Start.IsZero() {
		return errors.New("the coordinator gave no start time")
	}
	w.g.rec = newRecorder(m.Start)
	w.g.rec.keepParts()
	// The coordinator keeps the pipe open until the end: when it closes,
	// the coordinator is gone, and the load stops rather than run on
	// unobserved.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go cancelOnStop(lines, cancel)
	stop := everySecond(func() {
		// The totals, then the raw results flushed: the file then holds
		// (all but the few in between of) those they count.
		tot := w.g.rec.checkpoint()
		w.raw.flush()
		m := message{Progress: true, Requests: tot.Overall.Requests, Errors: tot.Overall.Errors, Totals: tot}
		enc.Encode(m)
	})
	err = w.run(ctx, m.Start)
	stop()
	if err != nil {
		return err
	}
	if err := enc.Encode(message{Done: true}); err != nil {
		return err
	}
	if !h.Stream {
		return nil
	}
	return streamResults(out, enc, h)
}

// readHandoff reads the handoff, the first line the coordinator sends.
func readHandoff(lines *bufio.Scanner) (Handoff, error) {
	var h Handoff
	if !lines.Scan() {
		return h, errors.New("no handoff on standard input")
	}
	if err := json.Unmarshal(lines.Bytes(), &h); err != nil {
		return h, fmt.Errorf("reading the handoff: %w", err)
	}
	return h, nil
}

// cancelOnStop reads the coordinator's messages until it says stop or
// closes the pipe, then calls cancel.
func cancelOnStop(lines *bufio.Scanner, cancel context.CancelFunc) {
	for lines.Scan() {
		var m message
		if json.Unmarshal(lines.Bytes(), &m) == nil && m.Stop {
			break
		}
	}
	cancel()
}

// streamResults sends the worker's part and raw results over out, for a
// coordinator that cannot read the worker's files (a pod's).
func streamResults(out io.Writer, enc *json.Encoder, h Handoff) error {
	for _, kind := range []string{"part", "raw"} {
		if err := streamFile(out, enc, kind, partFile(h.Dir, h.Index, streamed[kind])); err != nil {
			return fmt.Errorf("sending the %s: %w", kind, err)
		}
	}
	return nil
}

// streamFile writes a file on out after the line that frames it.
func streamFile(out io.Writer, enc *json.Encoder, kind, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := enc.Encode(message{File: kind, Size: st.Size()}); err != nil {
		return err
	}
	_, err = io.CopyN(out, f, st.Size())
	return err
}

// worker is one generator of a shared load, ready to start.
type worker struct {
	h    Handoff
	s    *Suite
	senv *step.Env
	raw  *rawWriter
	g    *generator
}

func prepareWorker(h Handoff, load func(Handoff) (*config.Config, error)) (*worker, error) {
	if h.Of < 1 || h.Index < 0 || h.Index >= h.Of {
		return nil, fmt.Errorf("worker %d of %d does not exist", h.Index, h.Of)
	}
	cfg, err := load(h)
	if err != nil {
		return nil, err
	}
	var whole *Suite
	for _, s := range cfg.Suites {
		if ps, ok := s.(*Suite); ok && ps.Name == h.Suite {
			whole = ps
		}
	}
	if whole == nil {
		return nil, fmt.Errorf("no performance suite %q in %s", h.Suite, h.Source)
	}
	s := *whole
	s.Load = whole.Load.part(h.Index, h.Of)
	if s.Feed != nil {
		s.Feed.seg = s.Load.seg
	}
	senv, err := step.NewEnv(cfg, h.URLs, h.Target)
	if err != nil {
		return nil, err
	}
	senv.Lean = true
	senv.ExtraHeaders = map[string]string{s.Marker: h.RunID}
	raw, err := newRawWriter(filepath.Join(h.Dir, fmt.Sprintf("%d.bin", h.Index)), senv.Redact)
	if err != nil {
		senv.Close()
		return nil, err
	}
	raw.seg = s.Load.seg
	g := newGenerator(&s, senv, raw)
	return &worker{h: h, s: &s, senv: senv, raw: raw, g: g}, nil
}

func (w *worker) close() { w.senv.Close() }

// run waits for start, sends the load and writes the part.
func (w *worker) run(ctx context.Context, start time.Time) error {
	if wait := time.Until(start); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	model, engine, gen := w.g.drive(ctx, start)
	elapsed := time.Since(start)
	if err := w.raw.Close(); err != nil {
		return fmt.Errorf("writing the raw results: %w", err)
	}
	p := w.g.rec.export()
	p.Index, p.Of, p.Model, p.Engine, p.ElapsedNS, p.Dry, p.Generator = w.h.Index, w.h.Of, model, engine, int64(elapsed), w.g.dry.Load(), gen
	p.CPUNS = int64(ownCPU())
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	// Written whole or not at all: a part file the coordinator finds is complete.
	path := filepath.Join(w.h.Dir, fmt.Sprintf("%d.json", w.h.Index))
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// ownCPU is the CPU time (user and system) this process has used: in a
// pod, where it is the container's only process, the container's.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// handoffVars gives a worker the variables' values as -var options (and,
// for an untyped variable a var file set to something other than a
// string, that file again), so that its suites evaluate as the
// coordinator's did.
func handoffVars(cfg *config.Config) (vars, files []string) {
	names := make([]string, 0, len(cfg.Variables))
	for n := range cfg.Variables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		v := cfg.Variables[name]
		if v.Source == "" || v.Source == "default" || v.Value == cty.NilVal || !v.Value.IsWhollyKnown() {
			continue
		}
		untyped := v.Type == cty.String || v.Type == cty.DynamicPseudoType
		switch {
		case untyped && v.Value.Type() == cty.String && !v.Value.IsNull():
			vars = append(vars, name+"="+v.Value.AsString())
		case !untyped:
			vars = append(vars, name+"="+string(hclwrite.TokensForValue(v.Value).Bytes()))
		case strings.HasPrefix(v.Source, "-var-file "):
			if f := strings.TrimPrefix(v.Source, "-var-file "); !slices.Contains(files, f) {
				files = append(files, f)
			}
		}
	}
	return vars, files
}

// handoffSource is the path the suites were loaded from: the one suite
// file when there is one, else their directory.
func handoffSource(cfg *config.Config, varFiles []string) string {
	var suites []string
	for name := range cfg.Files {
		if !slices.Contains(varFiles, name) && filepath.Ext(name) == ".hcl" {
			suites = append(suites, name)
		}
	}
	if len(suites) == 1 {
		return suites[0]
	}
	return cfg.Dir
}
