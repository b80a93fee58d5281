package target

import (
	"bytes"
	"io"
	"sync"
)

// redactWriter passes a target's output through redact before it reaches
// the log. It writes whole lines; a line longer than maxLine goes out in
// pieces, each but the last kept back by tail bytes, so that a secret
// split over two writes (or two pieces) is still seen whole.
type redactWriter struct {
	mu     sync.Mutex
	w      io.Writer
	redact func(string) string
	buf    []byte
	tail   int
}

// maxLine is how much of a line without a newline is held before a piece
// of it is written.
const maxLine = 64 << 10

// newRedactWriter returns w itself when there is nothing to redact.
// longest is the length of the longest secret.
func newRedactWriter(w io.Writer, redact func(string) string, longest int) io.Writer {
	if redact == nil {
		return w
	}
	// Room for the secret in its longest encoding (JSON twice, base64 of
	// text around it).
	return &redactWriter{w: w, redact: redact, tail: 8*longest + 64}
}

func (r *redactWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	if i := bytes.LastIndexByte(r.buf, '\n'); i >= 0 {
		if _, err := io.WriteString(r.w, r.redact(string(r.buf[:i+1]))); err != nil {
			return 0, err
		}
		r.buf = append(r.buf[:0], r.buf[i+1:]...)
	}
	if len(r.buf) > maxLine+r.tail {
		n := len(r.buf) - r.tail
		if _, err := io.WriteString(r.w, r.redact(string(r.buf[:n]))); err != nil {
			return 0, err
		}
		r.buf = append(r.buf[:0], r.buf[n:]...)
	}
	return len(p), nil
}

// Flush writes what is held back (a last line without a newline).
func (r *redactWriter) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == 0 {
		return nil
	}
	_, err := io.WriteString(r.w, r.redact(string(r.buf)))
	r.buf = r.buf[:0]
	return err
}
