package performance

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
)

// A load can be shared by several generators (`workers = N` in the load
// block). The split follows k6's execution segments for N equal segments:
// generator i of N takes the arrivals whose index n (from 0, in the order of
// one generator's schedule, ramps and stages included) has n mod N = i, and
// sends each at the time one generator would have. The union of the N
// schedules is therefore exactly the one generator's schedule. Virtual
// users of a closed model, max_requests and the rows of a feed are striped
// the same way, so that no two generators share a user or a row.

// maxLocalWorkers bounds the generators started on this machine: each is a
// cloudtest process.
const maxLocalWorkers = 64

// runners are the ways generators are started; kubernetes is refused until
// it is built.
var runners = []string{"local", "kubernetes"}

// decodeWorkers reads workers and runner; bad is set when the load block
// already has errors (the checks against concurrency and max_requests
// would then repeat them).
func decodeWorkers(l *Load, attrs hcl.Attributes, dc *config.DecodeContext, bad bool) hcl.Diagnostics {
	var diags, d hcl.Diagnostics
	wa, hasWorkers := attrs["workers"]
	if hasWorkers {
		l.Workers, d = dc.Int(wa)
		diags = append(diags, d...)
		if !d.HasErrors() {
			lim := limits{attrs: attrs}
			lim.count("workers", l.Workers, maxLocalWorkers)
			diags = append(diags, lim.diags...)
		}
	}
	if ra, ok := attrs["runner"]; ok {
		l.Runner, d = dc.OneOf(ra, runners...)
		diags = append(diags, d...)
		switch {
		case d.HasErrors():
		case l.Runner == "kubernetes":
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Runner not built yet",
				Detail:  `runner = "kubernetes" (an Indexed Job of generator pods) is not built yet; use runner = "local" to share the load among processes on this machine.`,
				Subject: ra.Expr.Range().Ptr()})
		case !hasWorkers:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Runner without workers",
				Detail:  fmt.Sprintf("runner = %q starts generators, but the load block does not say how many: add workers = 3, say.", l.Runner),
				Subject: ra.Expr.Range().Ptr()})
		}
	} else if hasWorkers {
		l.Runner = "local"
	}
	if !hasWorkers || diags.HasErrors() || bad || l.Workers < 2 {
		return diags
	}
	// Every generator must have something to send.
	switch {
	case l.Concurrency > 0 && l.Workers > l.Concurrency:
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "More generators than virtual users",
			Detail:  fmt.Sprintf("workers = %d shares %d virtual users: each generator needs at least one; lower workers to %d or less.", l.Workers, l.Concurrency, l.Concurrency),
			Subject: wa.Expr.Range().Ptr()})
	case l.MaxRequests > 0 && l.Workers > l.MaxRequests:
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "More generators than requests",
			Detail:  fmt.Sprintf("workers = %d shares max_requests = %d: each generator needs at least one journey; lower workers to %d or less.", l.Workers, l.MaxRequests, l.MaxRequests),
			Subject: wa.Expr.Range().Ptr()})
	}
	return diags
}

// segment is generator i's share of a load split among n (n 0 or 1: the
// whole load).
type segment struct{ i, n int }

func (s segment) whole() bool { return s.n <= 1 }

// global is the index in one generator's order of this generator's k-th
// arrival (or user, or row).
func (s segment) global(k uint64) uint64 {
	if s.whole() {
		return k
	}
	return k*uint64(s.n) + uint64(s.i)
}

// share is how many of total (arrivals, users, requests) fall to this
// generator: the indices below total with index mod n = i.
func (s segment) share(total int) int {
	if s.whole() {
		return total
	}
	if total <= s.i {
		return 0
	}
	return (total - s.i + s.n - 1) / s.n
}

// part is the load block of generator i of n: its share of the virtual
// users and of max_requests; its schedule is cut by schedule().
func (l Load) part(i, n int) Load {
	l.seg = segment{i: i, n: n}
	l.Concurrency = l.seg.share(l.Concurrency)
	l.MaxRequests = l.seg.share(l.MaxRequests)
	return l
}

// segmented is generator seg.i's part of a schedule: its hit k is the
// whole schedule's hit seg.global(k), due at the same time.
type segmented struct {
	whole schedule
	seg   segment
}

func (s segmented) due(k uint64) time.Duration { return s.whole.due(s.seg.global(k)) }

// expected is this generator's share of the hits due by d (a first guess:
// dueCount settles the exact count with due).
func (s segmented) expected(d time.Duration) float64 {
	return max(0, (s.whole.expected(d)-float64(s.seg.i))/float64(s.seg.n))
}

func (s segmented) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	return s.due(hits) - elapsed, false
}

func (s segmented) Rate(elapsed time.Duration) float64 {
	return s.whole.Rate(elapsed) / float64(s.seg.n)
}
