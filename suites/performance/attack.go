package performance

import (
	"context"
	"fmt"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cloudtest/cloudtest/internal/step"
)

// fastPath returns the request of a load that is one journey of one static
// HTTP step under an open model without a feed: such a load goes through
// vegeta's attacker, which sends it at far less CPU per request.
func (s *Suite) fastPath(env *step.Env) *step.Static {
	if s.Load.Rate == 0 || s.Feed != nil || len(s.Journeys) != 1 || len(s.Journeys[0].Steps) != 1 {
		return nil
	}
	st, _ := s.Journeys[0].Steps[0].Static(env)
	return st
}

// countPacer stops a pacer after max hits (vegeta's attacker has no
// request-count limit of its own).
type countPacer struct {
	schedule
	max uint64
}

func (c countPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if c.max > 0 && hits >= c.max {
		return 0, true
	}
	return c.schedule.Pace(elapsed, hits)
}

// attack sends the static request with vegeta's attacker at the suite's
// schedule, recording every result as the journey engine does. It returns
// a note when the attacker could not keep the rate (its max_workers were
// all busy), with the rate it achieved.
func (g *generator) attack(ctx context.Context, st *step.Static) string {
	sched := g.s.Load.schedule()
	j := g.s.Journeys[0]
	name := j.Steps[0].Name
	atk := vegeta.NewAttacker(vegeta.Client(st.Client), vegeta.MaxWorkers(uint64(g.s.Load.MaxWorkers)), vegeta.MaxBody(0))
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: st.Method, URL: st.URL, Body: st.Body, Header: st.Header})
	results := atk.Attack(targeter, countPacer{sched, uint64(g.s.Load.MaxRequests)}, g.s.Load.Duration, g.s.Name)
	var sent int64
	for {
		select {
		case <-ctx.Done():
			atk.Stop()
			for range results {
			}
			return ""
		case res, ok := <-results:
			if !ok {
				want := sched.expected(g.s.Load.Duration)
				if g.s.Load.MaxRequests > 0 {
					want = min(want, float64(g.s.Load.MaxRequests))
				}
				if float64(sent) < 0.99*want-1 {
					return fmt.Sprintf("the generator could not keep the rate: it sent %d of the %.0f requests due (achieved %.1f/s; raise max_workers, now %d, or lower the rate %.1f/s)",
						sent, want, float64(sent)/g.s.Load.Duration.Seconds(), g.s.Load.MaxWorkers, g.s.Load.Rate)
				}
				return ""
			}
			sent++
			passed := res.Error == "" && (len(st.Statuses) == 0 || slices.Contains(st.Statuses, int(res.Code)))
			kind := ""
			if !passed {
				kind = "check failed (status " + itoa(int(res.Code)) + ")"
				if res.Error != "" {
					kind = classify(res.Error)
				}
			}
			g.rec.request(j.Name, name, res.Timestamp, res.Latency, passed, int(res.Code), kind, int(res.BytesIn), int(res.BytesOut))
			g.rec.journey(j.Name, res.Latency, passed)
			res.Attack = g.s.Name + "/" + j.Name + "/" + name
			g.raw.write(res)
		}
	}
}
