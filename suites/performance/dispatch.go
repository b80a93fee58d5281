package performance

import (
	"fmt"
	"math"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cloudtest/cloudtest/internal/result"
)

// How an open model's journey is measured (both engines, the rule in
// docs/performance.md):
//
//   - A journey is due at its time on the schedule. The dispatcher sleeps
//     until then, wakes a little late (timer and scheduler jitter) and hands
//     the journey to an idle worker, which begins it a little later still:
//     that delay (begun − due) is the generator's own and is not charged to
//     the target. The first step's latency counts from when the worker
//     began, as vegeta's attacker counts from when a worker took a hit.
//   - When every worker is busy (max_workers journeys in flight, waiting for
//     the target), the journey waits for one: that wait is the target's
//     backpressure, so the latency counts from when the journey was due. So
//     does the latency of every journey that fell due while the dispatcher
//     was still waiting for a worker for an earlier one.
//   - A journey due by the end of the load that was never sent (the load
//     ended while it waited) is an error of kind "not sent", its latency
//     from when it was due until dispatching stopped.

// grace is how long after its duration an open model may still send what
// was due: a dispatcher a little behind catches up, one stuck behind busy
// workers stops.
const grace = 100 * time.Millisecond

// job is one journey handed to a worker.
type job struct {
	due     time.Time
	pressed bool // it waited for a worker, or fell due while the dispatcher did
}

// begin is when the journey's latency counts from, the worker taking it
// at now: its due time if it was pressed (the wait is the target's
// backpressure), else now, and then the delay since it was due is the
// generator's own.
func (j job) begin(rec *recorder, now time.Time) time.Time {
	if j.pressed {
		return j.due
	}
	rec.woke(now.Sub(j.due))
	return now
}

// dispatched is what an open model's dispatcher did.
type dispatched struct {
	began   time.Time // the schedule's zero
	handed  uint64    // hits handed to workers, in schedule order
	stopped time.Time // when dispatching stopped
	// blocked: when it stopped, the dispatcher was waiting for a worker.
	blocked bool
}

// dueCount is how many hits of sched fall due by d, at most max (0: no
// bound): the hits n with sched.due(n) <= d, the same test the dispatchers
// stop on.
func dueCount(sched schedule, d time.Duration, maxHits int) uint64 {
	x := sched.expected(d)
	if math.IsNaN(x) || x < 0 {
		return 0
	}
	n := uint64(x)
	for n > 0 && sched.due(n-1) > d {
		n--
	}
	for sched.due(n) <= d && (maxHits == 0 || n < uint64(maxHits)) {
		n++
	}
	if maxHits > 0 {
		n = min(n, uint64(maxHits))
	}
	return n
}

// settle finishes an open model's accounting: it counts the hits due by the
// end of the load (or by the interruption), records those never sent as
// errors, and returns the generator's figures. sent is the journeys that
// started (a hit that found a unique feed empty did not).
func (g *generator) settle(sched schedule, d dispatched, sent uint64, interrupted bool) *result.Generator {
	l := g.s.Load
	until := l.Duration
	if interrupted {
		until = min(until, d.stopped.Sub(d.began))
	}
	due := dueCount(sched, until, l.MaxRequests)
	if g.dry.Load() {
		// A unique feed that ran out ends the load by design: what fell
		// due after its last row is not counted.
		due = sent
	}
	due = max(due, sent)
	if !g.dry.Load() && due > d.handed {
		kind := "not sent (the generator fell behind)"
		if d.blocked {
			kind = fmt.Sprintf("not sent (all %d workers busy)", l.MaxWorkers)
		}
		g.unsent(sched, d, d.handed, due, kind)
	}
	wake, waited, wait := g.rec.generator()
	secs := until.Seconds() // an interrupted load's rates are over the time it ran
	if secs <= 0 {
		secs = l.Duration.Seconds()
	}
	return &result.Generator{Due: int64(due), Sent: int64(sent), DueRate: float64(due) / secs, AchievedRate: float64(sent) / secs,
		MaxWorkers: l.MaxWorkers, WakeDelayMS: wake, Waited: waited, WaitMS: wait}
}

// unsent records hits from..to-1, due but never sent, as errors measured
// from when each was due until dispatching stopped, and writes them to the
// raw file so that `vegeta report` counts them too.
func (g *generator) unsent(sched schedule, d dispatched, from, to uint64, kind string) {
	for n := from; n < to; n++ {
		due := d.began.Add(sched.due(n))
		lat := max(d.stopped.Sub(due), 0)
		ji := g.pick()
		j := g.s.Journeys[ji]
		g.rec.request(j.Name, j.Steps[0].Name, due, lat, false, 0, kind, 0, 0)
		g.rec.journey(j.Name, lat, false)
		g.raw.write(&vegeta.Result{Attack: g.attacks[ji][0], Seq: g.seq.Add(1) - 1, Timestamp: due, Latency: lat, Error: kind})
	}
}
