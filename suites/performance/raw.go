package performance

import (
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
