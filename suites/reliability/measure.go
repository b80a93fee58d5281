package reliability

import (
	"fmt"
	"math"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
)

// tierObjectives are the disaster-recovery tiers of the industry guide:
// the defaults of a component's objectives.
type tierObjectives struct {
	RTO, RPO time.Duration
	// Availability and YearlyDowntime are per year; an experiment window
	// with a deliberate outage cannot be held to the yearly availability,
	// so it is checked against the yearly downtime budget instead: one
	// experiment's outage must fit in it.
	Availability   float64
	YearlyDowntime time.Duration
}

var tiers = map[string]tierObjectives{
	"critical": {RTO: 2 * time.Minute, RPO: 0, Availability: 0.99999, YearlyDowntime: 5 * time.Minute},
	"general":  {RTO: 4 * time.Hour, RPO: time.Hour, Availability: 0.999, YearlyDowntime: 10 * time.Hour},
	"office":   {RTO: 24 * time.Hour, RPO: 24 * time.Hour, Availability: 0.99, YearlyDowntime: 4 * 24 * time.Hour},
}

// measureOutages fills in each injected fault's outage and recovery from
// the probes (in time order): the outage starts at the first failed probe
// after the injection (and before the next fault's, so that a later
// fault's outage is not charged to an earlier one) and ends at the first
// of recoveredAfter successes in a row; RTO is that end minus the
// injection time.
func measureOutages(faults []result.FaultRecord, probes []result.Probe, recoveredAfter int) {
	for i := range faults {
		f := &faults[i]
		if !f.Injected {
			continue
		}
		until := math.Inf(1)
		for _, g := range faults {
			if g.Injected && g.InjectedMS > f.InjectedMS {
				until = min(until, g.InjectedMS)
			}
		}
		first := -1
		for j, p := range probes {
			if due(p) >= until {
				break
			}
			if due(p) >= f.InjectedMS && !p.OK {
				first = j
				break
			}
		}
		if first < 0 {
			f.Outage, f.Recovered, f.RTOMS = false, true, 0
			continue
		}
		f.Outage, f.OutageStartMS = true, due(probes[first])
		f.Recovered = false
		run := 0
		for j := first + 1; j < len(probes); j++ {
			if !probes[j].OK {
				run = 0
				continue
			}
			run++
			if run == recoveredAfter {
				start := probes[j-recoveredAfter+1]
				f.Recovered, f.RecoveredMS = true, start.AtMS
				break
			}
		}
		if f.Recovered {
			f.RTOMS = f.RecoveredMS - f.InjectedMS
		} else if n := len(probes); n > 0 {
			// Not recovered: the RTO is at least the time to the last probe.
			f.RTOMS = probes[n-1].AtMS - f.InjectedMS
		}
	}
}

// outageMS adds up the time the probes (in the order they were due) saw
// the target down: from when a failed probe that follows a success was due
// to the answer of the next successful one (or the last probe's end).
// Spans that overlap (a probe answered late, after others due later had
// failed) count once.
func outageMS(probes []result.Probe) float64 {
	var total, start, covered float64
	add := func(from, to float64) {
		from = max(from, covered)
		if to > from {
			total += to - from
		}
		covered = max(covered, to)
	}
	down := false
	for _, p := range probes {
		switch {
		case !p.OK && !down:
			down, start = true, due(p)
		case p.OK && down:
			down = false
			add(start, p.AtMS)
		}
	}
	if down && len(probes) > 0 {
		end := 0.0
		for _, p := range probes {
			end = max(end, p.AtMS)
		}
		add(start, end)
	}
	return max(total, 0)
}

// due is when a probe was due: its answer time less its latency (which
// counts from when it was due).
func due(p result.Probe) float64 { return p.AtMS - p.LatencyMS }

// externalOutage is the outage record of a suite without faults: an
// outage caused from outside cloudtest, which starts at the first failed
// probe. Without a failed probe there is none to report.
func externalOutage(probes []result.Probe) []result.FaultRecord {
	for _, p := range probes {
		if !p.OK {
			return []result.FaultRecord{{Name: "outage", Action: "caused from outside cloudtest", Kind: "external",
				Engine: "none", External: true, Injected: true, InjectedMS: due(p)}}
		}
	}
	return nil
}

// rpoMS is the data-loss window: for each lost write, the injection time of
// the first fault at or after its acknowledgement minus that
// acknowledgement; a write acknowledged after the last fault began (the
// fault and the answer crossed) adds 0, and one lost with no fault at all
// counts up to the window's end. The largest of these, 0 when nothing was
// lost.
func rpoMS(lost []result.LedgerWrite, faults []result.FaultRecord, windowMS float64) float64 {
	var worst float64
	for _, w := range lost {
		at, any := windowMS, false
		for _, f := range faults {
			if !f.Injected {
				continue
			}
			any = true
			if f.InjectedMS >= w.AckedMS && f.InjectedMS < at {
				at = f.InjectedMS
			}
		}
		if any && at == windowMS {
			continue // acknowledged after every fault had begun
		}
		worst = max(worst, at-w.AckedMS)
	}
	return worst
}

// objectives compares what was measured with the suite's objectives, which
// default to the tier's.
func (s *Suite) objectives(exp *result.Experiment) []result.Objective {
	tier, hasTier := tiers[exp.Tier]
	src := func(explicit bool) string {
		if explicit {
			return "objectives"
		}
		return "tier " + exp.Tier
	}
	var out []result.Objective
	if s.Objectives.RTO != nil || hasTier {
		limit := tier.RTO
		if s.Objectives.RTO != nil {
			limit = *s.Objectives.RTO
		}
		measured := fmt.Sprintf("%s", roundMS(exp.RTOS*1000))
		if !exp.Recovered {
			measured = fmt.Sprintf("more than %s (not recovered when the experiment ended)", roundMS(exp.RTOS*1000))
		}
		out = append(out, result.Objective{Name: "rto", Limit: "≤ " + limit.String(), Measured: measured,
			Source: src(s.Objectives.RTO != nil), Passed: exp.Recovered && exp.RTOS*1000 <= float64(limit.Milliseconds())})
	}
	if exp.Ledger != nil && (s.Objectives.RPO != nil || hasTier) {
		limit := tier.RPO
		if s.Objectives.RPO != nil {
			limit = *s.Objectives.RPO
		}
		l := exp.Ledger
		measured := fmt.Sprintf("%s (%d of %d acknowledged writes lost)", roundMS(l.RPOS*1000), len(l.Lost), l.Acknowledged)
		passed := l.RPOS*1000 <= float64(limit.Milliseconds())
		if limit == 0 {
			passed = len(l.Lost) == 0
		}
		if len(l.Unverified) > 0 {
			measured += fmt.Sprintf("; %d writes could not be read back", len(l.Unverified))
			passed = false
		}
		out = append(out, result.Objective{Name: "rpo", Limit: "≤ " + limit.String(), Measured: measured,
			Source: src(s.Objectives.RPO != nil), Passed: passed})
	}
	if s.Objectives.Availability != nil {
		limit := *s.Objectives.Availability
		out = append(out, result.Objective{Name: "availability", Limit: fmt.Sprintf("≥ %s", pct(limit)),
			Measured: fmt.Sprintf("%s (down %.1f s of %.1f s; %d of %d probes answered)", pct(exp.Availability), exp.OutageS, exp.WindowS, exp.ProbesOK, exp.ProbesOK+exp.ProbesFailed),
			Source:   "objectives", Passed: exp.Availability >= limit})
	}
	if hasTier {
		out = append(out, result.Objective{Name: "downtime", Limit: fmt.Sprintf("≤ %s a year (availability %s)", tier.YearlyDowntime, pct(tier.Availability)),
			Measured: roundMS(exp.OutageS*1000).String() + " in this experiment",
			Source:   src(false), Passed: exp.OutageS*1000 <= float64(tier.YearlyDowntime.Milliseconds())})
	}
	return out
}

func roundMS(ms float64) time.Duration {
	return time.Duration(math.Round(ms)) * time.Millisecond
}

func pct(f float64) string {
	return fmt.Sprintf("%.3f %%", f*100)
}
