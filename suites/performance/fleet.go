package performance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// member is one generator of a shared load, wherever it runs: a process
// on this machine (fleet_local.go) or a pod of an Indexed Job
// (fleet_kube.go). The coordinator (coordinate.go) waits for the members,
// starts them together, interrupts or kills them and merges their parts
// through this interface alone.
type member interface {
	// name is how the report and the messages call it; location is where
	// it runs ("local process 123", "pod x (index 1)").
	name(of int) string
	location() string
	// messages gives its ready, error and done lines (progress is counted
	// apart); closed when its output ends.
	messages() <-chan message
	// exited is closed once it has ended for good.
	exited() <-chan struct{}
	progress() (requests, errors int64)
	// send writes one line to its input.
	send(m message) error
	// interrupt asks it to stop its load early and write what it measured.
	interrupt()
	// kill ends it now (without waiting).
	kill()
	// markOverdue says it ran far past the load's end and is being killed.
	markOverdue()
	// failure says why it did not finish its part, or "" (once exited).
	failure() string
	// cpu is the CPU time it used, or 0 when only its part says.
	cpu() time.Duration
	// checkpoint is the totals it last sent while running, or nil.
	checkpoint() *part
	// index is its number from 0: its part is <index>.json and its raw
	// results <index>.bin in the workers' directory.
	index() int
}

// peer is what every member has in common: the lines it wrote.
type peer struct {
	idx  int
	msgs chan message
	// gone is closed when it has ended.
	gone    chan struct{}
	mu      sync.Mutex
	done    bool // it said it was done
	overdue bool
	// files are the files it sent on its output (kubernetes), by kind.
	files map[string]bool
	// requests and errors so far, from its progress lines; totals the
	// last checkpoint it sent (under mu).
	requests, errors atomic.Int64
	totals           *part
}

func newPeer(i int) peer {
	return peer{idx: i, msgs: make(chan message, 4), gone: make(chan struct{}), files: map[string]bool{}}
}

func (p *peer) index() int               { return p.idx }
func (p *peer) messages() <-chan message { return p.msgs }
func (p *peer) exited() <-chan struct{}  { return p.gone }
func (p *peer) progress() (int64, int64) { return p.requests.Load(), p.errors.Load() }
func (p *peer) checkpoint() *part        { p.mu.Lock(); defer p.mu.Unlock(); return p.totals }
func (p *peer) isDone() bool             { p.mu.Lock(); defer p.mu.Unlock(); return p.done }
func (p *peer) isOverdue() bool          { p.mu.Lock(); defer p.mu.Unlock(); return p.overdue }
func (p *peer) markOverdue()             { p.mu.Lock(); p.overdue = true; p.mu.Unlock() }
func (p *peer) sent(kind string) bool    { p.mu.Lock(); defer p.mu.Unlock(); return p.files[kind] }
func (p *peer) markSent(kind string)     { p.mu.Lock(); p.files[kind] = true; p.mu.Unlock() }
func partFile(dir string, i int, ext string) string {
	return filepath.Join(dir, fmt.Sprintf("%d.%s", i, ext))
}

// read reads the member's output: message lines and, from a worker that
// streams its results (Handoff.Stream), the files framed after a
// {"file":…,"size":N} line, written into dir. It closes msgs at the end.
func (p *peer) read(out io.Reader, dir string) error {
	defer close(p.msgs)
	br := bufio.NewReaderSize(out, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			var m message
			if json.Unmarshal(line, &m) == nil {
				switch {
				case m.Progress:
					p.requests.Store(m.Requests)
					p.errors.Store(m.Errors)
					if m.Totals != nil {
						p.mu.Lock()
						p.totals = m.Totals
						p.mu.Unlock()
					}
					continue
				case m.File != "":
					if err := p.receive(br, m, dir); err != nil {
						return err
					}
					continue
				case m.Done:
					p.mu.Lock()
					p.done = true
					p.mu.Unlock()
				}
				select {
				case p.msgs <- m:
				default: // more lines than the protocol has: not read
				}
			}
		}
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// streamed are the files a streaming worker sends, by kind, and their
// extension in the workers' directory.
var streamed = map[string]string{"part": "json", "raw": "bin"}

func (p *peer) receive(br *bufio.Reader, m message, dir string) error {
	ext, ok := streamed[m.File]
	if !ok || m.Size < 0 {
		return fmt.Errorf("generator %d sent an unknown file %q", p.idx+1, m.File)
	}
	path := partFile(dir, p.idx, ext)
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	n, err := io.CopyN(f, br, m.Size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("generator %d: %s cut after %d of %d bytes: %w", p.idx+1, m.File, n, m.Size, err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return err
	}
	p.markSent(m.File)
	return nil
}

// lastLine is ": " and the last line of the file at path (a worker's
// standard error), or "" when it has none.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return ": " + strings.TrimSpace(string(b))
}
