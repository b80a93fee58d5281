package performance

import (
	"bufio"
	"fmt"
	"io"
	"os"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cloudtest/cloudtest/internal/step"
)

// rawRedaction keeps secrets out of load/*.bin. A result keeps what
// `vegeta report`, `vegeta plot` and `vegeta encode` read (attack, seq,
// timestamp, code, latency, bytes, error, method, URL); the response body
// and headers (Set-Cookie, tokens echoed back) are dropped, and the URL
// and error are redacted (a password in a query).
type rawRedaction struct {
	red *step.Redactor
	// The fast path sends one URL all along: its redaction is kept.
	lastURL, lastClean string
}

// clean redacts res in place; the caller holds the writer's lock.
func (r *rawRedaction) clean(res *vegeta.Result) {
	res.Body, res.Headers = nil, nil
	if res.URL != "" {
		if res.URL != r.lastURL {
			r.lastURL, r.lastClean = res.URL, r.red.String(res.URL)
		}
		res.URL = r.lastClean
	}
	if res.Error != "" {
		res.Error = r.red.String(res.Error)
	}
}

// ReadRaw decodes a vegeta-encoded raw results file (load/*.bin), as
// `vegeta report` reads it; an error names the file and how many results
// came before it.
func ReadRaw(path string) ([]vegeta.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := vegeta.NewDecoder(bufio.NewReader(f))
	var out []vegeta.Result
	for {
		var r vegeta.Result
		if err := dec(&r); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("decoding %s after %d results: %w", path, len(out), err)
		}
		out = append(out, r)
	}
}
