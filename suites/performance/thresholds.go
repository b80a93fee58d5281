package performance

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
)

// Limits every load has unless its thresholds block sets its own: a load
// whose requests fail, or whose generator could not send what was due,
// must not pass for want of a thresholds block.
const (
	// defaultSuccess is the least share of requests whose checks passed;
	// it applies unless success or max_error_rate is set.
	defaultSuccess = 0.99
	// defaultRateKept is the least share of the journeys due (by the
	// schedule, over the load's duration) that the generator sent; it
	// applies to every open model unless rate_kept is set.
	defaultRateKept = 0.99
)

// source says where a limit came from: the HCL line that set it, or
// "default".
func (t Thresholds) source(name string) string {
	r, ok := t.set[name]
	if !ok {
		return "default"
	}
	return fmt.Sprintf("%s:%d", filepath.Base(r.Filename), r.Start.Line)
}

func (t Thresholds) isSet(name string) bool {
	_, ok := t.set[name]
	return ok
}

// stepSuccess is the least share of a step's requests that must succeed
// for its own record (a test case in junit.xml) to pass: the suite's
// success limit, or 1 - max_error_rate.
func (t Thresholds) stepSuccess() float64 {
	switch {
	case t.isSet("success"):
		return t.Success
	case t.isSet("max_error_rate"):
		return 1 - t.MaxErrorRate
	}
	return defaultSuccess
}

// successSource is where the success limit came from.
func (t Thresholds) successSource() string {
	if t.isSet("max_error_rate") && !t.isSet("success") {
		return t.source("max_error_rate")
	}
	return t.source("success")
}

// check compares what was measured with every limit in force: those set
// and the defaults. gen is nil for a closed model, which has no rate.
func (t Thresholds) check(o result.LoadStats, gen *result.Generator) []result.Threshold {
	var out []result.Threshold
	add := func(name, metric, limit, measured string, passed bool) {
		out = append(out, result.Threshold{Scope: "overall", Metric: metric, Limit: limit, Measured: measured, Passed: passed, Source: t.source(name)})
	}
	lat := func(name string, limit time.Duration, measured float64) {
		if !t.isSet(name) {
			return
		}
		lm := float64(limit.Microseconds()) / 1000
		add(name, name, limit.String(), fmt.Sprintf("%.1fms", measured), o.Requests > 0 && measured <= lm)
	}
	lat("p50", t.P50, o.LatencyMS.P50)
	lat("p95", t.P95, o.LatencyMS.P95)
	lat("p99", t.P99, o.LatencyMS.P99)
	success := t.Success
	if !t.isSet("success") && !t.isSet("max_error_rate") {
		success = defaultSuccess
	}
	if t.isSet("success") || !t.isSet("max_error_rate") {
		add("success", "success", fmt.Sprintf("≥ %g", success), fmt.Sprintf("%.4f", o.Success), o.Requests > 0 && o.Success >= success)
	}
	if t.isSet("max_error_rate") {
		rate := 1 - o.Success
		add("max_error_rate", "error rate", fmt.Sprintf("≤ %g", t.MaxErrorRate), fmt.Sprintf("%.4f", rate), o.Requests > 0 && rate <= t.MaxErrorRate)
	}
	if t.isSet("min_tps") {
		add("min_tps", "TPS", fmt.Sprintf("≥ %g", t.MinTPS), fmt.Sprintf("%.1f", o.TPS), o.TPS >= t.MinTPS)
	}
	if gen != nil {
		kept := t.RateKept
		if !t.isSet("rate_kept") {
			kept = defaultRateKept
		}
		ratio := 1.0
		if gen.Due > 0 {
			ratio = float64(gen.Sent) / float64(gen.Due)
		}
		add("rate_kept", "rate kept", fmt.Sprintf("≥ %g of the rate due", kept),
			fmt.Sprintf("%.4f (%d of %d sent, %.1f/s of %.1f/s)", ratio, gen.Sent, gen.Due, gen.AchievedRate, gen.DueRate), ratio >= kept)
	}
	return out
}
