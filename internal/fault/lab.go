package fault

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/cloudtest/cloudtest/internal/target"
)

// Lab holds the engines and proxies of one experiment and writes its
// journal. Its methods may be called from several goroutines.
type Lab struct {
	suite, run string
	targets    map[string]*target.Instance

	// engMu guards engines, the engines opened so far by name.
	engMu   sync.Mutex
	engines map[string]engine

	mu      sync.Mutex
	journal *journal
	// active holds the faults injected and not yet removed, in order.
	active []*injection
	closed bool
}

type injection struct {
	spec *Spec
	id   string
	undo []Undo
}

// Open prepares the faults of one experiment: it starts the proxies that
// local network faults need (so that steady state is measured through the
// same path) and opens the journal at journalPath (appended to).
func Open(ctx context.Context, suite string, specs []*Spec, targets map[string]*target.Instance, journalPath string) (*Lab, error) {
	j, err := openJournal(journalPath)
	if err != nil {
		return nil, err
	}
	l := &Lab{suite: suite, run: runOf(journalPath), targets: targets, journal: j, engines: map[string]engine{}}
	for _, s := range specs {
		eng, err := l.engine(s.Engine)
		if err != nil {
			l.Close(ctx)
			return nil, fmt.Errorf("fault %q: %w", s.Name, err)
		}
		if p, ok := eng.(preparer); ok {
			if err := p.prepare(s, targets[s.Target]); err != nil {
				l.Close(ctx)
				return nil, err
			}
		}
	}
	return l, nil
}

// URL is the base URL through which the experiment reaches the named
// target: a proxy's when a local network fault acts on it, the target's own
// otherwise.
func (l *Lab) URL(targetName string) string {
	for _, k := range engines {
		if r, ok := l.opened(k.name).(router); ok {
			if u := r.url(targetName); u != "" {
				return u
			}
		}
	}
	if t := l.targets[targetName]; t != nil {
		return t.URL
	}
	return ""
}

// engine is the lab's engine of that name, opened on first use.
func (l *Lab) engine(name string) (engine, error) {
	k := engineNamed(name)
	if k == nil {
		return nil, fmt.Errorf("unknown engine %q", name)
	}
	l.engMu.Lock()
	defer l.engMu.Unlock()
	eng, ok := l.engines[k.name]
	if !ok {
		eng = k.open(l.run, l.suite)
		l.engines[k.name] = eng
	}
	return eng, nil
}

// opened is the lab's engine of that name, nil when it was never opened.
func (l *Lab) opened(name string) engine {
	l.engMu.Lock()
	defer l.engMu.Unlock()
	return l.engines[name]
}

// Inject applies s and journals it with its undo actions. A fault whose
// injection failed half-way is journalled with what was applied, so that
// Remove, Close and recover undo that part.
func (l *Lab) Inject(ctx context.Context, s *Spec) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("fault %q: the experiment's faults are already closed", s.Name)
	}
	if slices.ContainsFunc(l.active, func(in *injection) bool { return in.spec == s }) {
		return fmt.Errorf("fault %q is already active", s.Name)
	}
	eng, err := l.engine(s.Engine)
	if err != nil {
		return err
	}
	id := newID(l.suite, s.Name)
	t := l.targets[s.Target]
	if p, ok := eng.(planner); ok {
		if planned := p.plan(s, t); len(planned) > 0 {
			// Write-ahead: the removal is on disk before the fault is.
			if err := l.journal.write(record{ID: id, Suite: l.suite, Fault: s.Name, Engine: s.Engine, Action: s.Action, Event: eventIntent, Undo: planned}); err != nil {
				return fmt.Errorf("fault %q was not injected: the journal could not record it first: %w", s.Name, err)
			}
		}
	}
	undo, injErr := eng.inject(ctx, s, t)
	if injErr != nil && len(undo) == 0 {
		l.journal.write(record{ID: id, Suite: l.suite, Fault: s.Name, Engine: s.Engine, Action: s.Action, Event: eventFailed, Error: injErr.Error()})
		return fmt.Errorf("injecting fault %q: %w", s.Name, injErr)
	}
	in := &injection{spec: s, id: id, undo: undo}
	werr := l.journal.write(record{ID: in.id, Suite: l.suite, Fault: s.Name, Engine: s.Engine, Action: s.Action, Event: eventInject, Undo: undo, Error: errText(injErr)})
	if len(undo) > 0 {
		l.active = append(l.active, in)
	}
	if injErr != nil {
		return fmt.Errorf("injecting fault %q: %w", s.Name, injErr)
	}
	if werr != nil {
		return fmt.Errorf("fault %q is injected but the journal could not record it: %w", s.Name, werr)
	}
	return nil
}

// Remove undoes s (nothing when it is not active) and journals the removal.
func (l *Lab) Remove(ctx context.Context, s *Spec) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.IndexFunc(l.active, func(in *injection) bool { return in.spec == s })
	if i < 0 {
		return nil
	}
	return l.remove(ctx, i)
}

// remove undoes active[i]; l.mu is held. A removal that fails stays active
// so that Close tries again and recover finds it in the journal.
func (l *Lab) remove(ctx context.Context, i int) error {
	in := l.active[i]
	eng, err := l.engine(in.spec.Engine)
	if err == nil {
		err = runUndo(ctx, eng, in.undo)
	}
	if err != nil {
		l.journal.write(record{ID: in.id, Suite: l.suite, Fault: in.spec.Name, Engine: in.spec.Engine, Action: in.spec.Action, Event: eventRemoveFailed, Error: err.Error()})
		return fmt.Errorf("removing fault %q: %w", in.spec.Name, err)
	}
	l.active = slices.Delete(l.active, i, i+1)
	return l.journal.write(record{ID: in.id, Suite: l.suite, Fault: in.spec.Name, Engine: in.spec.Engine, Action: in.spec.Action, Event: eventRemove})
}

// runUndo carries out removals in reverse order of their injection and
// goes on after a failure, so that one failure leaves no other fault behind.
func runUndo(ctx context.Context, eng engine, undo []Undo) error {
	var errs []error
	for i := len(undo) - 1; i >= 0; i-- {
		if err := eng.undo(ctx, undo[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", undo[i].Op, err))
		}
	}
	return errors.Join(errs...)
}

// Close removes every fault still active, stops the proxies and closes the
// journal. It is safe to call more than once.
func (l *Lab) Close(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	for i := len(l.active) - 1; i >= 0; i-- {
		if err := l.remove(ctx, i); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range engines {
		if c, ok := l.opened(k.name).(closer); ok {
			c.close()
		}
	}
	errs = append(errs, l.journal.close())
	return errors.Join(errs...)
}

// InjectedAt is when the engine saw fault s take hold, when it knows
// better than the moment Inject was called: the kubernetes engine takes it
// from the Chaos Mesh object's records (the Apply event).
func (l *Lab) InjectedAt(s *Spec) (time.Time, bool) {
	if k := engineNamed(s.Engine); k != nil {
		if c, ok := l.opened(k.name).(injectionClock); ok {
			return c.injectedAtOf(s)
		}
	}
	return time.Time{}, false
}

// Active names the faults injected and not removed, for tests and reports.
func (l *Lab) Active() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	for _, in := range l.active {
		names = append(names, in.spec.Name)
	}
	return names
}

// Carrier is a suite that holds fault specs (`cloudtest plan --emit-chaos`).
type Carrier interface {
	FaultSpecs() []*Spec
}

// JournalPath is where a suite's fault journal goes in a run directory.
func JournalPath(runDir, suite string) string {
	return filepath.Join(runDir, "faults", objectName(suite)+".jsonl")
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
