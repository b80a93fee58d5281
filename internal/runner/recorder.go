package runner

import (
	"bytes"
	"encoding/json"
	"os"
	"sync"
)

// Recorder appends results to results.jsonl, one line each, as they
// happen. Each line is written with one write call so that a crash loses at
// most the line being written; Sync makes what was written durable.
type Recorder struct {
	mu  sync.Mutex
	f   *os.File
	err error
}

// OpenRecorder opens (or creates) path for appending.
func OpenRecorder(path string) (*Recorder, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &Recorder{f: f}, nil
}

// Write appends one record. The first write error is kept and returned by
// Close; later records are still attempted.
func (r *Recorder) Write(v any) {
	buf := lineBuffers.Get().(*bytes.Buffer)
	defer lineBuffers.Put(buf)
	buf.Reset()
	// Encode writes what json.Marshal would, and the newline.
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		r.fail(err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.f.Write(buf.Bytes()); err != nil && r.err == nil {
		r.err = err
	}
}

// lineBuffers keep the encoded lines' buffers from one record to the next.
var lineBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (r *Recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

// Sync flushes the file to stable storage.
func (r *Recorder) Sync() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.f.Sync(); err != nil && r.err == nil {
		r.err = err
	}
}

// Close syncs and closes the file.
func (r *Recorder) Close() error {
	r.Sync()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.f.Close(); err != nil && r.err == nil {
		r.err = err
	}
	return r.err
}
