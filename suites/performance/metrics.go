package performance

import (
	"maps"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/step"
)

// stats accumulates one journey's, one step's or the whole load's figures.
// The HDR histogram keeps memory constant whatever the run's length.
type stats struct {
	name     string
	hist     *hdr.Histogram // microseconds
	requests int64
	errors   int64
	codes    map[int]int
	kinds    map[string]int
	bytesIn  int64
	bytesOut int64
}

func newStats(name string) *stats {
	return &stats{name: name, hist: hdr.New(1, int64(time.Hour/time.Microsecond), 3), codes: map[int]int{}, kinds: map[string]int{}}
}

func (s *stats) add(lat time.Duration, ok bool, code int, kind string, in, out int) {
	s.requests++
	if !ok {
		s.errors++
		if kind != "" {
			s.kinds[kind]++
		}
	}
	if code > 0 {
		s.codes[code]++
	}
	s.bytesIn += int64(in)
	s.bytesOut += int64(out)
	us := lat.Microseconds()
	if us < 1 {
		us = 1
	}
	s.hist.RecordValue(min(us, s.hist.HighestTrackableValue()))
}

func ms(us int64) float64 { return float64(us) / 1000 }

// percentiles of a histogram of microseconds, in milliseconds.
func percentiles(h *hdr.Histogram) result.Percentiles {
	if h.TotalCount() == 0 {
		return result.Percentiles{}
	}
	return result.Percentiles{
		Min: ms(h.Min()), Mean: h.Mean() / 1000, P50: ms(h.ValueAtQuantile(50)),
		P90: ms(h.ValueAtQuantile(90)), P95: ms(h.ValueAtQuantile(95)), P99: ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()),
	}
}

// record adds a duration to a histogram of microseconds, within its range.
func record(h *hdr.Histogram, d time.Duration) {
	h.RecordValue(min(max(d.Microseconds(), 1), h.HighestTrackableValue()))
}

func (s *stats) summary(elapsed time.Duration) result.LoadStats {
	out := result.LoadStats{Name: s.name, Requests: s.requests, Errors: s.errors, BytesIn: s.bytesIn, BytesOut: s.bytesOut}
	if s.requests > 0 {
		out.Success = float64(s.requests-s.errors) / float64(s.requests)
		out.LatencyMS = percentiles(s.hist)
	}
	if elapsed > 0 {
		// Transactions per second: the requests that succeeded (their
		// checks passed), not those sent nor those that failed, over the
		// span the caller gives (from the start of the load to its last
		// answer): a target that answers in 8 s what was sent in 2 s, or
		// answers every request with a 500, does not show the rate sent.
		out.TPS = float64(s.requests-s.errors) / elapsed.Seconds()
	}
	if len(s.codes) > 0 {
		out.Codes = map[string]int{}
		for c, n := range s.codes {
			out.Codes[strconv.Itoa(c)] = n
		}
	}
	if len(s.kinds) > 0 {
		out.ErrorKinds = maps.Clone(s.kinds) // a part is marshalled while the load goes on
	}
	return out
}

// recorder collects every request's outcome under one lock; a load of tens
// of thousands of requests per second spends little time here compared with
// the requests themselves.
type recorder struct {
	mu       sync.Mutex
	start    time.Time
	overall  *stats
	journeys map[string]*stats
	steps    map[string]*stats
	// The current second and 200 ms window, by completion time; earlier
	// ones are kept only as their few figures, so memory stays flat
	// however long the load runs.
	sec     *stats
	secAt   int
	series  []result.SecondSample
	win     *hdr.Histogram
	winAt   int
	medians []float64
	hops    map[string]*hdr.Histogram
	// samples are the first message of each kind of error.
	samples map[string]string
	// lastAt is when the last answer came, since start.
	lastAt   time.Duration
	inFlight int64
	maxIn    int64
	// The generator's own figures (open model): how late the dispatcher
	// woke for a journey, and how long journeys that found every worker
	// busy waited for one.
	wake   *hdr.Histogram
	wait   *hdr.Histogram
	waited int64
	// keep: a worker of a shared load keeps every closed second's and
	// window's histogram for the coordinator to merge (part.go).
	keep     bool
	secParts []histAt
	winParts []histAt
}

func newRecorder(start time.Time) *recorder {
	return &recorder{start: start, overall: newStats("overall"), journeys: map[string]*stats{}, steps: map[string]*stats{}, hops: map[string]*hdr.Histogram{},
		sec:  &stats{hist: hdr.New(1, int64(time.Minute/time.Microsecond), 2), codes: map[int]int{}, kinds: map[string]int{}},
		win:  hdr.New(1, int64(time.Minute/time.Microsecond), 2),
		wake: hdr.New(1, int64(time.Hour/time.Microsecond), 3), wait: hdr.New(1, int64(time.Hour/time.Microsecond), 3)}
}

func (r *recorder) begin() {
	r.mu.Lock()
	r.inFlight++
	r.maxIn = max(r.maxIn, r.inFlight)
	r.mu.Unlock()
}

func (r *recorder) end() {
	r.mu.Lock()
	r.inFlight--
	r.mu.Unlock()
}

func get(m map[string]*stats, name string) *stats {
	s, ok := m[name]
	if !ok {
		s = newStats(name)
		m[name] = s
	}
	return s
}

// request records one step of one journey; intended is when it was meant to
// be sent, so that a generator that fell behind still charges the waiting
// to the latency (no coordinated omission).
func (r *recorder) request(journey, step string, intended time.Time, lat time.Duration, ok bool, code int, kind string, in, out int) {
	r.requestKey(stepKey(journey, step), intended, lat, ok, code, kind, in, out)
}

// stepSep joins a journey's and a step's names in the recorder's keys.
const stepSep = " › "

// stepKey names a journey's step in the recorder and the report.
func stepKey(journey, step string) string { return journey + stepSep + step }

// requestKey is request with the step's stepKey, made once by the caller.
func (r *recorder) requestKey(key string, intended time.Time, lat time.Duration, ok bool, code int, kind string, in, out int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.overall.add(lat, ok, code, kind, in, out)
	get(r.steps, key).add(lat, ok, code, kind, in, out)
	at := time.Since(r.start)
	if i := int(at / time.Second); i != r.secAt {
		r.closeSecond()
		r.secAt = i
	}
	r.sec.add(lat, ok, code, kind, in, out)
	r.lastAt = max(r.lastAt, at)
	if i := int(at / window); i != r.winAt {
		r.closeWindow()
		r.winAt = i
	}
	r.win.RecordValue(min(max(lat.Microseconds(), 1), r.win.HighestTrackableValue()))
}

// sample keeps msg as the first message of errors of kind (the later
// ones of a kind are not kept).
func (r *recorder) sample(kind, msg string) {
	if kind == "" || msg == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.samples[kind]; ok || len(r.samples) >= maxSamples {
		return
	}
	if r.samples == nil {
		r.samples = map[string]string{}
	}
	if len(msg) > maxSampleLen {
		msg = step.Cut(msg, maxSampleLen) + " …"
	}
	r.samples[kind] = msg
}

// maxSamples bounds the kinds of errors with a message kept, and
// maxSampleLen each message.
const (
	maxSamples   = 20
	maxSampleLen = 300
)

// window is the span of the latency samples a regression test compares.
const window = 200 * time.Millisecond

func (r *recorder) closeSecond() {
	if r.sec.requests == 0 {
		return
	}
	r.series = append(r.series, result.SecondSample{Second: r.secAt, Requests: r.sec.requests, Errors: r.sec.errors,
		P50MS: ms(r.sec.hist.ValueAtQuantile(50)), P99MS: ms(r.sec.hist.ValueAtQuantile(99))})
	if r.keep {
		r.secParts = append(r.secParts, histAt{At: r.secAt, Requests: r.sec.requests, Errors: r.sec.errors, Hist: encode(r.sec.hist)})
	}
	r.sec.hist.Reset()
	r.sec.requests, r.sec.errors = 0, 0
}

func (r *recorder) closeWindow() {
	if r.win.TotalCount() == 0 {
		return
	}
	r.medians = append(r.medians, ms(r.win.ValueAtQuantile(50)))
	if r.keep {
		r.winParts = append(r.winParts, histAt{At: r.winAt, Hist: encode(r.win)})
	}
	r.win.Reset()
}

func (r *recorder) windowMedians() []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeWindow()
	return append([]float64(nil), r.medians...)
}

// woke records how late the dispatcher woke for a journey that a free
// worker took at once: the generator's own lag, not charged to the target.
func (r *recorder) woke(late time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	record(r.wake, late)
}

// waitedFor records a journey that found every worker busy and waited this
// long from when it was due until one took it.
func (r *recorder) waitedFor(wait time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waited++
	record(r.wait, wait)
}

// generator summarises the generator's own figures.
func (r *recorder) generator() (wake result.Percentiles, waited int64, wait result.Percentiles) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return percentiles(r.wake), r.waited, percentiles(r.wait)
}

func (r *recorder) journey(name string, lat time.Duration, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	get(r.journeys, name).add(lat, ok, 0, "", 0, 0)
}

func (r *recorder) summary(elapsed time.Duration) (overall result.LoadStats, journeys, steps []result.LoadStats, series []result.SecondSample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	overall, journeys, steps = r.totals(elapsed)
	r.closeSecond()
	series = append(series, r.series...)
	return
}

// partial is summary without closing the current second (the load goes
// on): the totals so far, for a part written as the load runs.
func (r *recorder) partial(elapsed time.Duration) (overall result.LoadStats, journeys, steps []result.LoadStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.totals(elapsed)
}

// totals are the figures of the load, of each journey and of each step
// (r.mu held). The rates are over the span from the start to the last
// answer (as vegeta's throughput is), when that is known and longer than
// the span given: the answers of a slow target come after the load's
// duration, and count over the time they took.
func (r *recorder) totals(elapsed time.Duration) (overall result.LoadStats, journeys, steps []result.LoadStats) {
	if r.lastAt > elapsed {
		elapsed = r.lastAt
	}
	overall = r.overall.summary(elapsed)
	overall.MaxInFlight = r.maxIn
	overall.ErrorSamples = maps.Clone(r.samples)
	for _, name := range sortedNames(r.journeys) {
		journeys = append(journeys, r.journeys[name].summary(elapsed))
	}
	for _, name := range sortedNames(r.steps) {
		steps = append(steps, r.steps[name].summary(elapsed))
	}
	return
}

func sortedNames(m map[string]*stats) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// snapshot is the live view: requests and errors so far and the p99.
func (r *recorder) snapshot() (requests, errors int64, p99 float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.overall.requests, r.overall.errors, ms(r.overall.hist.ValueAtQuantile(99))
}

// serverTiming adds a response's Server-Timing durations (ms).
func (r *recorder) serverTiming(st map[string]float64) {
	if len(st) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, d := range st {
		h, ok := r.hops[name]
		if !ok {
			h = hdr.New(1, int64(time.Hour/time.Microsecond), 3)
			r.hops[name] = h
		}
		h.RecordValue(min(max(int64(d*1000), 1), h.HighestTrackableValue()))
	}
}

func (r *recorder) hopSummary() []result.Hop {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.hops))
	for n := range r.hops {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []result.Hop
	for _, n := range names {
		h := r.hops[n]
		out = append(out, result.Hop{Name: n, Count: h.TotalCount(), MeanMS: h.Mean() / 1000,
			P50MS: ms(h.ValueAtQuantile(50)), P99MS: ms(h.ValueAtQuantile(99)), MaxMS: ms(h.Max())})
	}
	return out
}

// histogram buckets the overall latencies by powers of two of a millisecond
// (from 0.125 ms), from the first bucket with a request to the last.
func (r *recorder) histogram() []result.Bucket {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := map[int]int64{}
	lo, hi := math.MaxInt, -1
	for _, bar := range r.overall.hist.Distribution() {
		if bar.Count == 0 {
			continue
		}
		k := max(0, int(math.Ceil(math.Log2(ms(bar.To)/0.125))))
		counts[k] += bar.Count
		lo, hi = min(lo, k), max(hi, k)
	}
	var out []result.Bucket
	for k := lo; k <= hi; k++ {
		out = append(out, result.Bucket{UpToMS: 0.125 * math.Pow(2, float64(k)), Count: counts[k]})
	}
	return out
}
