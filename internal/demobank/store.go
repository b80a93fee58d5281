package demobank

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// record is one line of the journal. Replaying every record in order
// rebuilds the bank's state.
type record struct {
	Op       string       `json:"op"` // transfer | ledger
	Transfer *Transfer    `json:"transfer,omitempty"`
	Ledger   *LedgerEntry `json:"ledger,omitempty"`
	Key      string       `json:"key,omitempty"` // idempotency key of a transfer
}

// journal appends records to a file. In durable mode a write returns only
// after its record is on disk; concurrent writers share one fsync (group
// commit). In write-behind mode writes return at once and are flushed every
// interval, so a crash loses what was not flushed yet, on purpose.
type journal struct {
	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	behind  time.Duration
	pending []chan error // waiting for the next fsync
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

const journalName = "journal.jsonl"

func openJournal(dir string, behind time.Duration) (*journal, []record, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, journalName)
	recs, good, err := replay(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, nil, err
	}
	// A torn last record (a crash in the middle of a write) is cut off.
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, nil, err
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, err
	}
	j := &journal{f: f, w: bufio.NewWriterSize(f, 64<<10), behind: behind,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go j.loop()
	return j, recs, nil
}

func replay(path string) ([]record, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var recs []record
	var good int64
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			return recs, good, nil // a last line without newline is torn
		}
		if err != nil {
			return nil, 0, err
		}
		var rec record
		if json.Unmarshal(line, &rec) != nil {
			return recs, good, nil
		}
		recs = append(recs, rec)
		good += int64(len(line))
	}
}

// append writes rec; in durable mode it waits until rec is on disk.
func (j *journal) append(rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	j.mu.Lock()
	if _, err := j.w.Write(b); err != nil {
		j.mu.Unlock()
		return err
	}
	if j.behind > 0 {
		j.mu.Unlock()
		return nil
	}
	ch := make(chan error, 1)
	j.pending = append(j.pending, ch)
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default:
	}
	return <-ch
}

func (j *journal) loop() {
	defer close(j.done)
	var tick <-chan time.Time
	if j.behind > 0 {
		t := time.NewTicker(j.behind)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-j.kick:
		case <-tick:
		case <-j.stop:
			j.flush()
			return
		}
		j.flush()
	}
}

// flush writes the buffer, syncs once and releases every waiting writer.
func (j *journal) flush() {
	j.mu.Lock()
	err := j.w.Flush()
	waiting := j.pending
	j.pending = nil
	j.mu.Unlock()
	if err == nil {
		err = j.f.Sync()
	}
	for _, ch := range waiting {
		ch <- err
	}
}

func (j *journal) close() error {
	close(j.stop)
	<-j.done
	return j.f.Close()
}

// abandon closes the file without flushing: what a SIGKILL does to a
// write-behind buffer. For tests.
func (j *journal) abandon() error {
	j.mu.Lock()
	j.w.Reset(io.Discard)
	j.mu.Unlock()
	close(j.stop)
	<-j.done
	return j.f.Close()
}
