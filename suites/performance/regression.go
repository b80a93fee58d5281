package performance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

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
	if o := base.Overall; countedEveryRequest(base) {
		// An older cloudtest counted every request in TPS: its successes
		// per second are that times the share that succeeded.
		r.BaselineTPS = o.TPS * float64(o.Requests-o.Errors) / float64(o.Requests)
		r.BaselineTPSNote = fmt.Sprintf("run %s was measured by an older cloudtest, whose TPS (%.1f/s) counted every request, %d of them failed: shown here as its successful requests per second, %.1f/s × %d/%d, as this run's TPS counts",
			r.Run, o.TPS, o.Errors, o.TPS, o.Requests-o.Errors, o.Requests)
	}
	if mb > 0 {
		r.Change = mc/mb - 1
	}
	r.PValue = mannWhitneyGreater(cur.Windows, base.Windows)
	r.Regressed = r.Change > allowed && r.PValue < significance
	// With few windows the test cannot reach p < 0.01 whatever the
	// latencies (4 against 4 at best gives 0.013): a slowdown it cannot
	// judge is not noise, it is undecided.
	best := lowestPValue(len(cur.Windows), len(base.Windows))
	r.Undecided = r.Change > allowed && best >= significance
	verdict := "no regression"
	switch {
	case r.Regressed:
		verdict = "a regression"
	case r.Undecided:
		verdict = fmt.Sprintf("slower, and too few windows to judge: even if every window were slower than every baseline window, p would be %.4f, not under %g; a load of %s at least, in both runs, can be judged", best, significance, windowsNeeded())
	case r.Change > allowed:
		verdict = "slower, but not significantly (noise)"
	}
	r.Explanation = fmt.Sprintf("against run %s: median latency %+.1f%% (allowed %.0f%%), p = %.4f (%s): %s",
		r.Run, r.Change*100, allowed*100, r.PValue, r.Test, verdict)
	return r, nil
}

// countedEveryRequest says whether a baseline's TPS counted every request,
// failed or not, as cloudtest's did until 2026-12-03: it says nothing of
// what it counts (tps_counts came later), and it has failed requests but
// no error samples, which came in the same landing as the TPS of
// successes (a summary since then with failed requests has one at least).
func countedEveryRequest(base result.LoadSummary) bool {
	o := base.Overall
	return base.TPSCounts == "" && o.Errors > 0 && o.TPS > 0 && len(o.ErrorSamples) == 0
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

// lowestPValue is the smallest p the test can give for n1 current and n2
// baseline windows: every current window slower than every baseline one.
func lowestPValue(n1, n2 int) float64 {
	x, y := make([]float64, n1), make([]float64, n2)
	for i := range y {
		y[i] = float64(i)
	}
	for i := range x {
		x[i] = float64(n2 + i)
	}
	return mannWhitneyGreater(x, y)
}

// windowsNeeded is the shortest load (as many windows in both runs) whose
// test can reach significance.
func windowsNeeded() string {
	n := 1
	for n < 1000 && lowestPValue(n, n) >= significance {
		n++
	}
	return fmt.Sprintf("%d windows (%s)", n, time.Duration(n)*window)
}
