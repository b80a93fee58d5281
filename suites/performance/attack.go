package performance

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/step"
)

// fastPath returns the request of a load that is one journey of one static
// HTTP step under an open model without a feed: such a load goes through
// vegeta's attacker, which sends it at far less CPU per request.
func (s *Suite) fastPath(env *step.Env) *step.Static {
	if s.Load.Rate == 0 {
		return nil
	}
	return s.static(env)
}

// static returns the request of a load that is one journey of one static
// HTTP step without a feed (nil for any other load).
func (s *Suite) static(env *step.Env) *step.Static {
	if s.Feed != nil || len(s.Journeys) != 1 || len(s.Journeys[0].Steps) != 1 || s.Journeys[0].Think[0] > 0 {
		return nil
	}
	st, _ := s.Journeys[0].Steps[0].Static(env)
	return st
}

// attack sends the static request with vegeta's attacker at the suite's
// schedule, recording every result as the journey engine does. vegeta
// times a request from when a worker took it; the fastPacer knows when
// each hit was due and when the dispatcher woke for it, so latency follows
// the same rule as on the journey engine, and hits never sent are counted.
func (g *generator) attack(ctx context.Context, st *step.Static) *result.Generator {
	sched := g.s.Load.schedule()
	j := g.s.Journeys[0]
	name := j.Steps[0].Name
	var received atomic.Uint64
	p := &fastPacer{ctx: ctx, sched: sched, max: uint64(g.s.Load.MaxRequests), duration: g.s.Load.Duration,
		deadline: g.s.Load.Duration + grace, workers: uint64(g.s.Load.MaxWorkers),
		busy: func(handed uint64) uint64 { return handed - received.Load() }, pending: map[uint64]job{}}
	atk := vegeta.NewAttacker(vegeta.Client(st.Client), vegeta.MaxWorkers(uint64(g.s.Load.MaxWorkers)), vegeta.MaxBody(0))
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: st.Method, URL: st.URL, Body: st.Body, Header: st.Header})
	// The pacer ends the attack; the deadline stops one stuck behind busy
	// workers (vegeta waits for a free worker without looking at the time).
	p.began = time.Now() // until the first Pace says when vegeta's attack began
	results := atk.Attack(targeter, p, 0, g.s.Name)
	deadline := time.AfterFunc(g.s.Load.Duration+grace, func() {
		p.stop(time.Now(), true)
		atk.Stop() // no more hits; those in flight finish
	})
	defer deadline.Stop()
	defer context.AfterFunc(ctx, func() {
		p.stop(time.Now(), false)
		atk.Stop()
	})()
	for res := range results {
		received.Add(1)
		from := res.Timestamp
		if jb, ok := p.take(res.Seq); ok {
			from = jb.begin(g.rec, res.Timestamp)
			if jb.pressed {
				g.rec.waitedFor(res.Timestamp.Sub(jb.due))
			}
		}
		lat := res.Timestamp.Add(res.Latency).Sub(from)
		// vegeta sets Error for a status outside 200–399 too; the step's
		// expect.status, when it has one, decides instead.
		code := int(res.Code)
		passed, kind := code != 0, ""
		switch {
		case code == 0:
			kind = classifyText(res.Error)
		case len(st.Statuses) > 0 && !slices.Contains(st.Statuses, code):
			passed, kind = false, "check failed (status "+itoa(code)+")"
		case len(st.Statuses) == 0 && badStatus(code):
			passed, kind = false, "status "+itoa(code)
		}
		g.rec.request(j.Name, name, from, lat, passed, int(res.Code), kind, int(res.BytesIn), int(res.BytesOut))
		g.rec.journey(j.Name, lat, passed)
		res.Attack = g.s.Name + "/" + j.Name + "/" + name
		res.Timestamp, res.Latency = from, lat
		g.raw.write(res)
	}
	p.stop(time.Now(), false)
	g.seq.Store(received.Load()) // the hits never sent follow vegeta's sequence numbers
	return g.settle(sched, dispatched{began: p.began, handed: received.Load(), stopped: p.stopped, blocked: p.blocked}, received.Load(), ctx.Err() != nil)
}

// badStatus is vegeta's rule for a request without an expected status: an
// answer outside 200–399 is an error. Under load a step with no
// expect.status follows it on both engines.
func badStatus(code int) bool { return code < 200 || code >= 400 }
