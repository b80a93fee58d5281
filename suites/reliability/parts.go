package reliability

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
)

// partEvery is how often a running experiment appends what it measured
// since the last part to results.jsonl (besides every injection and
// removal and the end of the window): a run killed in the middle loses at
// most this much.
const partEvery = time.Second

// writeHeader appends the first part: what the experiment is, before
// anything is measured.
func (x *experiment) writeHeader() {
	head := *x.exp
	head.Faults = slices.Clone(x.exp.Faults)
	x.recordPart(result.ExperimentPart{Experiment: &head, Faults: head.Faults, Recovered: true})
}

// writePart appends the probes that ended and the writes acknowledged
// since the last part, with the figures measured on every probe so far.
// It runs on the goroutine that injects and removes the faults.
func (x *experiment) writePart() {
	x.mu.Lock()
	all := slices.Clone(x.probes)
	fresh := slices.Clone(x.probes[x.partProbes:])
	x.partProbes = len(all)
	var writes []result.LedgerWrite
	for _, w := range x.writes[x.partWrites:] {
		if w.acked {
			lw := result.LedgerWrite{Seq: w.seq, AckedMS: w.ackedMS}
			lw.ID, _ = canonicalID(w.captures["id"])
			writes = append(writes, lw)
		}
	}
	written := len(x.writes)
	x.partWrites = written
	inFlight := x.exp.ProbesInFlightMax
	x.mu.Unlock()

	now := x.since()
	so := result.Experiment{WindowS: now / 1000, Probes: all, Faults: slices.Clone(x.exp.Faults)}
	x.measure(&so)
	for i := range so.Faults {
		// The first part has them; the report takes them from there.
		so.Faults[i].Location = ""
	}
	x.recordPart(result.ExperimentPart{
		AtS: now / 1000, Probes: fresh, Writes: writes, Written: written,
		ProbesOK: so.ProbesOK, ProbesFailed: so.ProbesFailed, ProbesInFlightMax: inFlight,
		OutageS: so.OutageS, Availability: so.Availability, RTOS: so.RTOS, Recovered: so.Recovered, Faults: so.Faults,
	})
}

func (x *experiment) recordPart(p result.ExperimentPart) {
	b, err := json.Marshal(p)
	if err != nil {
		return
	}
	x.env.RecordPart(b)
}
