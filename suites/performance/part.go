package performance

import (
	"fmt"
	"maps"
	"sort"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cloudtest/cloudtest/internal/result"
)

// part is what one generator of a shared load measured, written by the
// worker to <i>.json and merged by the coordinator. It holds the
// recorder's state whole: counts, and HDR histograms in their compressed
// encoding (lossless), overall, per journey and step, per second and per
// 200 ms window, so that the merged figures are those of one generator
// that had sent every request.
type part struct {
	Index     int               `json:"index"`
	Of        int               `json:"of"`
	Model     string            `json:"model"`
	Engine    string            `json:"engine"`
	ElapsedNS int64             `json:"elapsed_ns"`
	Dry       bool              `json:"feed_ran_out,omitempty"`
	Overall   statsPart         `json:"overall"`
	Journeys  []statsPart       `json:"journeys,omitempty"`
	Steps     []statsPart       `json:"steps,omitempty"`
	Seconds   []histAt          `json:"seconds,omitempty"`
	Windows   []histAt          `json:"windows,omitempty"`
	Hops      map[string]string `json:"hops,omitempty"`
	MaxIn     int64             `json:"max_in_flight"`
	Wake      string            `json:"wake"`
	Wait      string            `json:"wait"`
	Waited    int64             `json:"waited"`
	Generator *result.Generator `json:"generator,omitempty"`
	// CPUNS is the CPU time the worker used, as it measured it itself.
	CPUNS int64 `json:"cpu_ns,omitempty"`
	// LastAtNS is when its last answer came, from the common start (the
	// merged TPS counts to the last answer of all); Samples the first
	// message of each kind of error.
	LastAtNS int64             `json:"last_at_ns,omitempty"`
	Samples  map[string]string `json:"error_samples,omitempty"`
}

type statsPart struct {
	Name     string         `json:"name"`
	Hist     string         `json:"hist"`
	Requests int64          `json:"requests"`
	Errors   int64          `json:"errors"`
	Codes    map[int]int    `json:"codes,omitempty"`
	Kinds    map[string]int `json:"kinds,omitempty"`
	BytesIn  int64          `json:"bytes_in"`
	BytesOut int64          `json:"bytes_out"`
}

// histAt is one second (or 200 ms window) of the load, by its index from
// the common start.
type histAt struct {
	At       int    `json:"at"`
	Requests int64  `json:"requests,omitempty"`
	Errors   int64  `json:"errors,omitempty"`
	Hist     string `json:"hist"`
}

func encode(h *hdr.Histogram) string {
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		// Encoding a histogram this package made does not fail; an empty
		// string would be refused when merged, not silently lost.
		return ""
	}
	return string(b)
}

func decodeHist(s string) (*hdr.Histogram, error) {
	h, err := hdr.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("a histogram cannot be read: %w", err)
	}
	return h, nil
}

// export is s as a part: a copy (the maps too), which may be encoded
// after the recorder's lock is released while requests go on.
func (s *stats) export() statsPart {
	return statsPart{Name: s.name, Hist: encode(s.hist), Requests: s.requests, Errors: s.errors, Codes: maps.Clone(s.codes), Kinds: maps.Clone(s.kinds), BytesIn: s.bytesIn, BytesOut: s.bytesOut}
}

func (s *stats) merge(p statsPart) error {
	h, err := decodeHist(p.Hist)
	if err != nil {
		return err
	}
	s.hist.Merge(h)
	s.requests += p.Requests
	s.errors += p.Errors
	for c, n := range p.Codes {
		s.codes[c] += n
	}
	for k, n := range p.Kinds {
		s.kinds[k] += n
	}
	s.bytesIn += p.BytesIn
	s.bytesOut += p.BytesOut
	return nil
}

// keepParts makes the recorder keep each closed second's and window's
// histogram, for export.
func (r *recorder) keepParts() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keep = true
}

// export closes the current second and window and returns the recorder's
// state.
func (r *recorder) export() part {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeSecond()
	r.closeWindow()
	p := part{Overall: r.overall.export(), Seconds: r.secParts, Windows: r.winParts, MaxIn: r.maxIn,
		Wake: encode(r.wake), Wait: encode(r.wait), Waited: r.waited, Hops: map[string]string{},
		LastAtNS: int64(r.lastAt), Samples: r.samples}
	r.exportGroups(&p)
	for name, h := range r.hops {
		p.Hops[name] = encode(h)
	}
	return p
}

// exportGroups adds each journey's and step's statistics to p (r.mu held).
func (r *recorder) exportGroups(p *part) {
	for _, name := range sortedNames(r.journeys) {
		p.Journeys = append(p.Journeys, r.journeys[name].export())
	}
	for _, name := range sortedNames(r.steps) {
		p.Steps = append(p.Steps, r.steps[name].export())
	}
}

// checkpoint is the recorder's totals so far, as a part that holds only
// what merging totals needs (overall, journeys, steps, the last answer,
// the error samples): its size does not grow with the load.
func (r *recorder) checkpoint() *part {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := &part{Overall: r.overall.export(), MaxIn: r.maxIn, LastAtNS: int64(r.lastAt), Samples: maps.Clone(r.samples)}
	r.exportGroups(p)
	return p
}

// mergeTotals merges the checkpoints of the generators (index i's is
// parts[i], nil when it sent none yet) into the totals of one generator
// that had sent it all.
func mergeTotals(parts []*part) (*recorder, error) {
	r := newRecorder(time.Time{})
	for i, p := range parts {
		if p == nil {
			continue
		}
		p.Index = i
		if err := r.mergeStats(p, nil); err != nil {
			return nil, err
		}
		r.mergeMaxima(p)
	}
	return r, nil
}

// mergeMaxima adds a part's maximum in flight (summed: an upper bound),
// last answer and error samples (the first of each kind) to r.
func (r *recorder) mergeMaxima(p *part) {
	r.maxIn += p.MaxIn
	r.lastAt = max(r.lastAt, time.Duration(p.LastAtNS))
	for k, m := range p.Samples {
		if _, ok := r.samples[k]; !ok && len(r.samples) < maxSamples {
			if r.samples == nil {
				r.samples = map[string]string{}
			}
			r.samples[k] = m
		}
	}
}

// mergeParts builds the recorder of one generator that had sent what all
// the parts sent: counts summed, histograms merged (so percentiles are
// those of every request, not averages), seconds and windows aligned on
// their index from the common start. maxIn is the sum of the parts'
// maxima: an upper bound of the requests in flight at once.
func mergeParts(parts []*part) (*recorder, error) {
	r := newRecorder(time.Time{})
	secs := map[int]*stats{}
	wins := map[int]*hdr.Histogram{}
	for _, p := range parts {
		if err := r.mergeStats(p, secs); err != nil {
			return nil, err
		}
		if err := r.mergeHists(p, wins); err != nil {
			return nil, err
		}
		r.waited += p.Waited
		r.mergeMaxima(p)
	}
	for _, at := range sortedKeys(secs) {
		s := secs[at]
		r.series = append(r.series, result.SecondSample{Second: at, Requests: s.requests, Errors: s.errors,
			P50MS: ms(s.hist.ValueAtQuantile(50)), P99MS: ms(s.hist.ValueAtQuantile(99))})
	}
	for _, at := range sortedKeys(wins) {
		r.medians = append(r.medians, ms(wins[at].ValueAtQuantile(50)))
	}
	return r, nil
}

// mergeStats adds the statistics of a generator's part to r: the overall
// ones, each journey's and step's, and each second's into secs.
func (r *recorder) mergeStats(p *part, secs map[int]*stats) error {
	if err := r.overall.merge(p.Overall); err != nil {
		return fmt.Errorf("generator %d: %w", p.Index+1, err)
	}
	for _, group := range []struct {
		into map[string]*stats
		from []statsPart
	}{{r.journeys, p.Journeys}, {r.steps, p.Steps}} {
		for _, sp := range group.from {
			if err := get(group.into, sp.Name).merge(sp); err != nil {
				return fmt.Errorf("generator %d: %w", p.Index+1, err)
			}
		}
	}
	for _, s := range p.Seconds {
		st, ok := secs[s.At]
		if !ok {
			st = &stats{hist: hdr.New(1, int64(time.Minute/time.Microsecond), 2), codes: map[int]int{}, kinds: map[string]int{}}
			secs[s.At] = st
		}
		if err := st.merge(statsPart{Hist: s.Hist, Requests: s.Requests, Errors: s.Errors}); err != nil {
			return fmt.Errorf("generator %d, second %d: %w", p.Index+1, s.At, err)
		}
	}
	return nil
}

// mergeHists adds the histograms of a generator's part to r: each window's
// latencies into wins, each hop's, and the pacer's wake delays and waits.
func (r *recorder) mergeHists(p *part, wins map[int]*hdr.Histogram) error {
	for _, w := range p.Windows {
		h, err := decodeHist(w.Hist)
		if err != nil {
			return fmt.Errorf("generator %d: %w", p.Index+1, err)
		}
		if wins[w.At] == nil {
			wins[w.At] = hdr.New(1, int64(time.Minute/time.Microsecond), 2)
		}
		wins[w.At].Merge(h)
	}
	for name, enc := range p.Hops {
		h, err := decodeHist(enc)
		if err != nil {
			return fmt.Errorf("generator %d: %w", p.Index+1, err)
		}
		if r.hops[name] == nil {
			r.hops[name] = hdr.New(1, int64(time.Hour/time.Microsecond), 3)
		}
		r.hops[name].Merge(h)
	}
	for dst, enc := range map[*hdr.Histogram]string{r.wake: p.Wake, r.wait: p.Wait} {
		h, err := decodeHist(enc)
		if err != nil {
			return fmt.Errorf("generator %d: %w", p.Index+1, err)
		}
		dst.Merge(h)
	}
	return nil
}

func sortedKeys[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
