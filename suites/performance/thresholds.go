package performance

import (
	"fmt"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
)

// check compares what was measured with every limit set.
func (t Thresholds) check(o result.LoadStats) []result.Threshold {
	var out []result.Threshold
	lat := func(name string, limit time.Duration, measured float64) {
		if _, set := t.set[name]; !set {
			return
		}
		lm := float64(limit.Microseconds()) / 1000
		out = append(out, result.Threshold{Scope: "overall", Metric: name, Limit: limit.String(),
			Measured: fmt.Sprintf("%.1fms", measured), Passed: o.Requests > 0 && measured <= lm})
	}
	lat("p50", t.P50, o.LatencyMS.P50)
	lat("p95", t.P95, o.LatencyMS.P95)
	lat("p99", t.P99, o.LatencyMS.P99)
	if _, set := t.set["success"]; set {
		out = append(out, result.Threshold{Scope: "overall", Metric: "success", Limit: fmt.Sprintf("≥ %g", t.Success),
			Measured: fmt.Sprintf("%.4f", o.Success), Passed: o.Requests > 0 && o.Success >= t.Success})
	}
	if _, set := t.set["max_error_rate"]; set {
		rate := 1 - o.Success
		out = append(out, result.Threshold{Scope: "overall", Metric: "error rate", Limit: fmt.Sprintf("≤ %g", t.MaxErrorRate),
			Measured: fmt.Sprintf("%.4f", rate), Passed: o.Requests > 0 && rate <= t.MaxErrorRate})
	}
	if _, set := t.set["min_tps"]; set {
		out = append(out, result.Threshold{Scope: "overall", Metric: "TPS", Limit: fmt.Sprintf("≥ %g", t.MinTPS),
			Measured: fmt.Sprintf("%.1f", o.TPS), Passed: o.TPS >= t.MinTPS})
	}
	return out
}
