package fault

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Journal events.
const (
	eventInject       = "inject"
	eventRemove       = "remove"
	eventRemoveFailed = "remove-failed"
	eventFailed       = "inject-failed"
	// eventIntent comes before an inject, with the removal planned: a
	// crash between the two leaves it pending for recover.
	eventIntent = "intent"
)

// record is one line of a fault journal. An inject record carries the
// removals that undo it; a remove record with the same id says they were
// carried out.
type record struct {
	Time   time.Time `json:"time"`
	ID     string    `json:"id,omitempty"`
	Suite  string    `json:"suite"`
	Fault  string    `json:"fault"`
	Engine string    `json:"engine"`
	Action string    `json:"action"`
	Event  string    `json:"event"`
	Undo   []Undo    `json:"undo,omitempty"`
	Error  string    `json:"error,omitempty"`
	// By says who removed the fault when it was not the run itself.
	By string `json:"by,omitempty"`
}

// journal appends records to a file, each synced to disk before the call
// returns: the journal is what recover trusts after a crash.
type journal struct {
	f *os.File
}

func openJournal(path string) (*journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("fault journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("fault journal: %w", err)
	}
	return &journal{f: f}, nil
}

func (j *journal) write(r record) error {
	if j == nil || j.f == nil {
		return errors.New("the fault journal is closed")
	}
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("fault journal: %w", err)
	}
	return j.f.Sync()
}

func (j *journal) close() error {
	if j == nil || j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

var idSeq atomic.Int64

func newID(suite, fault string) string {
	return fmt.Sprintf("%s/%s/%d.%d", suite, fault, time.Now().UnixNano(), idSeq.Add(1))
}

// Recover replays the removals of every fault that the journals under dir
// record as injected and not removed, writing what it did to w; it returns
// how many removals it carried out.
func Recover(ctx context.Context, dir string, w io.Writer) (int, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Only the journals: a run directory's results.jsonl holds whole
		// probe timelines and is none of recover's business.
		if !d.IsDir() && strings.HasSuffix(p, ".jsonl") && filepath.Base(filepath.Dir(p)) == "faults" {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	sort.Strings(paths)
	opened := map[string]engine{}
	defer func() {
		for _, eng := range opened {
			if c, ok := eng.(closer); ok {
				c.close()
			}
		}
	}()
	var done int
	var errs []error
	for _, p := range paths {
		n, err := recoverJournal(ctx, p, opened, w)
		done += n
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	return done, errors.Join(errs...)
}

func recoverJournal(ctx context.Context, path string, opened map[string]engine, w io.Writer) (int, error) {
	pending, err := pendingInjections(path)
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	j, err := openJournal(path)
	if err != nil {
		return 0, err
	}
	defer j.close()
	var done int
	var errs []error
	// Last injected, first removed: the order a run's Close follows.
	for k := len(pending) - 1; k >= 0; k-- {
		in := pending[k]
		eng := opened[in.Engine]
		if eng == nil {
			k := engineNamed(in.Engine)
			if k == nil {
				k = engines[0]
			}
			eng = k.open(runOf(path), in.Suite)
			opened[in.Engine] = eng
		}
		rec := record{ID: in.ID, Suite: in.Suite, Fault: in.Fault, Engine: in.Engine, Action: in.Action, By: "cloudtest recover"}
		if err := runUndo(ctx, eng, in.Undo); err != nil {
			rec.Event, rec.Error = eventRemoveFailed, err.Error()
			j.write(rec)
			fmt.Fprintf(w, "FAILED to remove fault %q (%s, %s engine) of suite %q: %v\n", in.Fault, in.Action, in.Engine, in.Suite, err)
			errs = append(errs, fmt.Errorf("fault %q: %w", in.Fault, err))
			continue
		}
		rec.Event = eventRemove
		if err := j.write(rec); err != nil {
			errs = append(errs, err)
		}
		done++
		fmt.Fprintf(w, "removed fault %q (%s, %s engine) of suite %q, injected at %s\n", in.Fault, in.Action, in.Engine, in.Suite, in.Time.Format(time.RFC3339))
	}
	return done, errors.Join(errs...)
}

// pendingInjections reads a journal and returns the injections that no
// removal record follows, in the order they were injected.
func pendingInjections(path string) ([]record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var order []string
	injected := map[string]record{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			// A crash can cut the last line short; what precedes it stands.
			continue
		}
		switch r.Event {
		case eventIntent, eventInject:
			// The inject record, when there is one, replaces the intent
			// with the removals the engine reported.
			if len(r.Undo) > 0 {
				if _, seen := injected[r.ID]; !seen {
					order = append(order, r.ID)
				}
				injected[r.ID] = r
			} else {
				delete(injected, r.ID)
			}
		case eventRemove, eventFailed:
			delete(injected, r.ID)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var out []record
	for _, id := range order {
		if r, ok := injected[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}
