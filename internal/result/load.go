package result

// LoadSummary is the Data of a performance suite's result: what the load
// generator measured, overall and per journey and step.
type LoadSummary struct {
	Model string `json:"model"` // open | closed
	// Unfinished: the run ended (kill -9, a power cut) before the suite
	// did; these are the figures of the last part the load wrote as it
	// ran (a LevelPart record), up to DurationS into the load.
	Unfinished bool `json:"unfinished,omitempty"`
	// Engine is "static requests" for a load of one static request (the
	// fast path: the request built once; "vegeta attacker" in runs before
	// 2026-12-03) or "journeys" for steps evaluated by cloudtest's workers.
	Engine string `json:"engine"`
	// TPSCounts is "successes": TPS counts the successful requests (runs
	// since 2026-12-03). Empty in an older run's, whose TPS counted every
	// request, failed or not.
	TPSCounts   string         `json:"tps_counts,omitempty"`
	TargetRate  float64        `json:"target_rate,omitempty"`
	Concurrency int            `json:"concurrency,omitempty"`
	DurationS   float64        `json:"duration_s"`
	Overall     LoadStats      `json:"overall"`
	Journeys    []LoadStats    `json:"journeys,omitempty"`
	Steps       []LoadStats    `json:"steps,omitempty"`
	Series      []SecondSample `json:"series,omitempty"`
	Thresholds  []Threshold    `json:"thresholds,omitempty"`
	// Raw is the vegeta-encoded results file, relative to the run directory.
	Raw string `json:"raw,omitempty"`
	// Note says why the achieved rate fell short of the target, when it did.
	Note string `json:"note,omitempty"`
	// Target is the target the load was sent to.
	Target string `json:"target,omitempty"`
	// Windows are the median latencies (ms) of consecutive 200 ms windows:
	// the samples a regression test compares.
	Windows []float64 `json:"windows,omitempty"`
	// Compare is the same load against the compared (legacy) target.
	Compare *LoadSummary `json:"compare,omitempty"`
	// Baseline compares this load with the same suite of an earlier run.
	Baseline *Regression `json:"baseline,omitempty"`
	// Utilization of the target during the load.
	Utilization *Utilization `json:"utilization,omitempty"`
	// Histogram counts the requests by latency, in buckets whose upper
	// bounds (ms) grow by a factor of two.
	Histogram []Bucket `json:"histogram,omitempty"`
	// Hops break the latency down by the Server-Timing metrics the target
	// reported (db, app, cache…), when it reported any.
	Hops []Hop `json:"hops,omitempty"`
	// Generator is what the load generator itself did (open model); for a
	// load shared among generators, what they did together.
	Generator *Generator `json:"generator,omitempty"`
	// Runner says how a load shared among generators (workers = N) was
	// started ("local": processes on the coordinator's machine), and
	// Generators what each of them did; both are empty for a load the run
	// sent itself.
	Runner     string         `json:"runner,omitempty"`
	Generators []GeneratorRun `json:"generators,omitempty"`
}

// GeneratorRun is one generator of a shared load: what it sent and the CPU
// time it used, so that a saturated generator (CPU near 100 % of a core,
// achieved rate below its due rate) is visible.
type GeneratorRun struct {
	Index    int    `json:"index"` // from 1
	Location string `json:"location"`
	Requests int64  `json:"requests"`
	Errors   int64  `json:"errors"`
	// AchievedRate is the journeys it started per second over the load's
	// duration; DueRate (open model) those its share of the schedule had due.
	AchievedRate float64 `json:"achieved_rate"`
	DueRate      float64 `json:"due_rate,omitempty"`
	CPUSeconds   float64 `json:"cpu_s"`
	// CPUPercent is its CPU time over the time it ran, of one core.
	CPUPercent float64 `json:"cpu_percent"`
	// Failed says why it did not finish its part (killed, failed); its
	// results are then missing from the merged figures.
	Failed string `json:"failed,omitempty"`
}

// Generator is what an open model's generator did: the journeys (or
// requests, on the vegeta fast path) due by the end of the load and how
// many it sent, and its own lateness. A journey is measured from when the
// dispatcher woke for it, so the wake-up delay (woke − due) is the
// generator's, not charged to the target; a journey that had to wait for a
// free worker (all max_workers busy: the target's backpressure) is measured
// from when it was due, and that wait is shown here too.
type Generator struct {
	Due          int64   `json:"due"`
	Sent         int64   `json:"sent"`
	DueRate      float64 `json:"due_rate"`      // per second, over the load's duration
	AchievedRate float64 `json:"achieved_rate"` // sent per second, over the load's duration
	MaxWorkers   int     `json:"max_workers"`
	// WakeDelayMS: how late the dispatcher woke for a journey, over the
	// journeys that did not wait for a worker.
	WakeDelayMS Percentiles `json:"wake_delay_ms"`
	// Waited journeys found every worker busy; WaitMS is from when each was
	// due until a worker took it.
	Waited int64       `json:"waited_for_worker"`
	WaitMS Percentiles `json:"worker_wait_ms"`
}

// Hop is one Server-Timing metric aggregated over the load.
type Hop struct {
	Name   string  `json:"name"`
	Count  int64   `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// Regression is the comparison of a load with a baseline run's.
type Regression struct {
	Run         string  `json:"run"`
	BaselineP50 float64 `json:"baseline_p50_ms"`
	CurrentP50  float64 `json:"current_p50_ms"`
	BaselineP99 float64 `json:"baseline_p99_ms"`
	CurrentP99  float64 `json:"current_p99_ms"`
	BaselineTPS float64 `json:"baseline_tps"`
	CurrentTPS  float64 `json:"current_tps"`
	// BaselineTPSNote says how BaselineTPS was made comparable, when the
	// baseline's run counted TPS otherwise (an older cloudtest's).
	BaselineTPSNote string  `json:"baseline_tps_note,omitempty"`
	Change          float64 `json:"change"`  // relative change of the median of the windows' medians
	Allowed         float64 `json:"allowed"` // the suite's regression threshold
	PValue          float64 `json:"p_value"` // one-sided Mann-Whitney U: current slower than baseline
	Test            string  `json:"test"`
	Regressed       bool    `json:"regressed"`
	// Undecided: slower by more than allowed, but with too few windows
	// for the test to find any slowdown significant.
	Undecided   bool   `json:"undecided,omitempty"`
	Explanation string `json:"explanation"`
}

// LoadStats are the figures of one journey, one step, or the whole load.
type LoadStats struct {
	Name        string         `json:"name"`
	Requests    int64          `json:"requests"`
	Errors      int64          `json:"errors"`
	Success     float64        `json:"success"`
	TPS         float64        `json:"tps"`
	MaxInFlight int64          `json:"max_in_flight,omitempty"`
	Codes       map[string]int `json:"codes,omitempty"`
	ErrorKinds  map[string]int `json:"error_kinds,omitempty"`
	// ErrorSamples give, for each kind of error, the first one's message
	// (its first line, redacted): what "error" was (EOF, an expression
	// that could not be evaluated, at its file and line).
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
	BytesIn      int64             `json:"bytes_in"`
	BytesOut     int64             `json:"bytes_out"`
	LatencyMS    Percentiles       `json:"latency_ms"`
	ThresholdBad bool              `json:"threshold_broken,omitempty"`
}

// Percentiles of latency in milliseconds, from an HDR histogram with three
// significant digits.
type Percentiles struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// SecondSample is one second of the load.
type SecondSample struct {
	Second   int     `json:"second"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
}

// Threshold is one limit and what was measured against it.
type Threshold struct {
	Scope    string `json:"scope"` // "overall" or a step name
	Metric   string `json:"metric"`
	Limit    string `json:"limit"`
	Measured string `json:"measured"`
	Passed   bool   `json:"passed"`
	// Source is where the limit came from: "file.hcl:12", or "default"
	// for a limit every load has unless its thresholds set another.
	Source string  `json:"source"`
	Value  float64 `json:"-"`
}

// Utilization is what the target used while the load ran.
type Utilization struct {
	Source     string  `json:"source"` // how it was measured
	CPUMean    float64 `json:"cpu_percent_mean"`
	CPUMax     float64 `json:"cpu_percent_max"` // of one core; 200 is two cores busy
	RSSMeanMB  float64 `json:"rss_mb_mean"`
	RSSMaxMB   float64 `json:"rss_mb_max"`
	Samples    int     `json:"samples"`
	Unmeasured string  `json:"unmeasured,omitempty"` // why nothing was measured
}

// Bucket is one bar of the latency histogram: requests at most UpToMS
// (and above the previous bucket's bound).
type Bucket struct {
	UpToMS float64 `json:"up_to_ms"`
	Count  int64   `json:"count"`
}
