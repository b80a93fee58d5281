package performance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cloudtest/cloudtest/internal/result"
)

// defaultRegression is the relative slowdown that counts when the suite sets
// none.
const defaultRegression = 0.10

// significance is the p-value under which a slowdown is more than noise.
const significance = 0.01

// regression compares this load's latency with the same suite's in the
// baseline run directory. A regression counts only when the median of the
// 200 ms windows' median latencies grew by more than the allowed ratio AND
// a one-sided Mann-Whitney U test on those windows says the current run is
// slower with p < 0.01, so that a noisy machine does not cry wolf.
func (s *Suite) regression(baselineDir string, cur result.LoadSummary) (*result.Regression, error) {
	base, err := baselineSummary(baselineDir, s.Name)
	if err != nil {
		return nil, err
	}
	allowed := s.Thresholds.Regression
	if _, set := s.Thresholds.set["regression"]; !set {
		allowed = defaultRegression
	}
	mb, mc := median(base.Windows), median(cur.Windows)
	r := &result.Regression{
		Run: filepath.Base(baselineDir), BaselineP50: base.Overall.LatencyMS.P50, CurrentP50: cur.Overall.LatencyMS.P50,
		BaselineP99: base.Overall.LatencyMS.P99, CurrentP99: cur.Overall.LatencyMS.P99,
		BaselineTPS: base.Overall.TPS, CurrentTPS: cur.Overall.TPS, Allowed: allowed,
		Test: fmt.Sprintf("one-sided Mann-Whitney U on %d and %d medians of 200 ms windows", len(cur.Windows), len(base.Windows)),
	}
	if mb > 0 {
		r.Change = mc/mb - 1
	}
	r.PValue = mannWhitneyGreater(cur.Windows, base.Windows)
	r.Regressed = r.Change > allowed && r.PValue < significance
	verdict := "no regression"
	switch {
	case r.Regressed:
		verdict = "a regression"
	case r.Change > allowed:
		verdict = "slower, but not significantly (noise)"
	}
	r.Explanation = fmt.Sprintf("against run %s: median latency %+.1f%% (allowed %.0f%%), p = %.4f (%s): %s",
		r.Run, r.Change*100, allowed*100, r.PValue, r.Test, verdict)
	return r, nil
}

func baselineSummary(dir, suite string) (result.LoadSummary, error) {
	f, err := os.Open(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		return result.LoadSummary{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r result.Result
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Level != result.LevelSuite || r.Suite != suite || r.Kind != "performance" {
			continue
		}
		var ls result.LoadSummary
		if err := json.Unmarshal(r.Data, &ls); err != nil {
			return ls, fmt.Errorf("the baseline's measurements of %q cannot be read: %w", suite, err)
		}
		if len(ls.Windows) == 0 {
			return ls, fmt.Errorf("the baseline run has no latency windows for %q (recorded by an older cloudtest?)", suite)
		}
		return ls, nil
	}
	return result.LoadSummary{}, fmt.Errorf("the baseline run %s has no performance suite %q", dir, suite)
}
