package performance

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/remotewrite"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
)

// The quantiles pushed per step and per journey, over the last interval.
var pushedQuantiles = []struct {
	label string
	q     float64
}{{"0.5", 50}, {"0.9", 90}, {"0.95", 95}, {"0.99", 99}}

// pushInterval is how often the live figures are pushed.
const pushInterval = time.Second

// counted is what the recorder holds for one step or journey at a moment.
type counted struct {
	requests, errors int64
	hist             *hdr.Snapshot
}

// liveCounts copies, under the recorder's lock, the counts and histograms
// of every step and journey and the requests in flight.
func (r *recorder) liveCounts() (steps, journeys map[string]counted, inFlight int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	copyAll := func(m map[string]*stats) map[string]counted {
		out := make(map[string]counted, len(m))
		for name, s := range m {
			out[name] = counted{s.requests, s.errors, s.hist.Export()}
		}
		return out
	}
	return copyAll(r.steps), copyAll(r.journeys), r.inFlight
}

// metricsPusher pushes a load's live figures to a Prometheus remote-write
// endpoint once a second: counters of requests and errors, the rate and
// latency quantiles of the last second per step and per journey, and the
// requests in flight, labelled with the run id, the suite and the target.
type metricsPusher struct {
	client *remotewrite.Client
	rec    *recorder
	labels map[string]string
	last   time.Time
	prev   map[string]counted // by "step:NAME" or "journey:NAME"

	pushes, failed int
	firstErr       error
}

// remoteWriteURL is where the suite's load figures go: the suite's own
// metrics_remote_write, else the run's --metrics-remote-write, else nowhere.
func (s *Suite) remoteWriteURL(renv *runner.Env) string {
	if s.MetricsRemoteWrite != "" {
		return s.MetricsRemoteWrite
	}
	return renv.MetricsRemoteWrite
}

// pushMetrics starts pushing g's figures when a remote-write URL is set;
// the returned function pushes the final figures, stops, and records how
// the pushes went as a step of the load.
func (g *generator) pushMetrics(renv *runner.Env, target string, start time.Time) (stop func()) {
	u := g.s.remoteWriteURL(renv)
	if u == "" {
		return func() {}
	}
	p := &metricsPusher{client: remotewrite.New(u), rec: g.rec, last: start, prev: map[string]counted{},
		labels: map[string]string{"run_id": renv.RunID, "suite": g.s.Name, "target": target}}
	var mu sync.Mutex
	tick := func() {
		mu.Lock()
		defer mu.Unlock()
		p.push(time.Now())
	}
	halt := everySecond(tick)
	return func() {
		halt()
		tick()
		shown := u
		if pu, err := url.Parse(u); err == nil {
			shown = pu.Redacted()
		}
		r := result.Result{Level: result.LevelStep, Case: "load", Step: "metrics remote write", Phase: "test", Status: result.Passed,
			Location: locationOf(g.s), Message: fmt.Sprintf("%d pushes to %s (target %s)", p.pushes, shown, target)}
		if p.failed > 0 {
			r.Status = result.Errored
			r.Message = fmt.Sprintf("%d of %d pushes to %s failed (target %s); the first: %v", p.failed, p.pushes, shown, target, p.firstErr)
		}
		renv.Record(r)
	}
}

func locationOf(s *Suite) string {
	if s.MetricsRemoteWriteRange.Filename != "" {
		return fmt.Sprintf("%s:%d", s.MetricsRemoteWriteRange.Filename, s.MetricsRemoteWriteRange.Start.Line)
	}
	return fmt.Sprintf("%s:%d", s.DeclRange.Filename, s.DeclRange.Start.Line)
}

// minRateInterval is the shortest interval (seconds) a per-second rate is
// pushed for.
const minRateInterval = 0.5

// push sends the figures at now.
func (p *metricsPusher) push(now time.Time) {
	steps, journeys, inFlight := p.rec.liveCounts()
	interval := now.Sub(p.last).Seconds()
	p.last = now
	var series []remotewrite.Series
	add := func(name string, extra map[string]string, v float64) {
		l := make(map[string]string, len(p.labels)+len(extra))
		for k, x := range p.labels {
			l[k] = x
		}
		for k, x := range extra {
			l[k] = x
		}
		series = append(series, remotewrite.Series{Name: name, Labels: l, Samples: []remotewrite.Sample{{Value: v, Time: now}}})
	}
	figures := func(prefix, key string, labels map[string]string, c counted) {
		prev := p.prev[key]
		p.prev[key] = c
		add(prefix+"s_total", labels, float64(c.requests))
		add(prefix+"_errors_total", labels, float64(c.errors))
		// The final push comes soon after the last tick: a rate over a few
		// milliseconds would read 6 requests in 50 ms as 120/s. Such a
		// short interval pushes the counters only (rate() of them in
		// Prometheus covers it).
		if interval >= minRateInterval {
			add(prefix+"_rate", labels, float64(c.requests-prev.requests)/interval)
			add(prefix+"_error_rate", labels, float64(c.errors-prev.errors)/interval)
		}
		if h := since(c.hist, prev.hist); h.TotalCount() > 0 {
			for _, q := range pushedQuantiles {
				ql := map[string]string{"quantile": q.label}
				for k, v := range labels {
					ql[k] = v
				}
				add(prefix+"_latency_seconds", ql, float64(h.ValueAtQuantile(q.q))/1e6)
			}
		}
	}
	for name, c := range steps {
		journey, step, _ := strings.Cut(name, stepSep)
		figures("cloudtest_request", "step:"+name, map[string]string{"journey": journey, "step": step}, c)
	}
	for name, c := range journeys {
		figures("cloudtest_journey", "journey:"+name, map[string]string{"journey": name}, c)
	}
	add("cloudtest_requests_in_flight", nil, float64(inFlight))
	p.pushes++
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.client.Push(ctx, series); err != nil {
		p.failed++
		if p.firstErr == nil {
			p.firstErr = err
		}
	}
}

// since is the histogram of what was recorded between prev and cur.
func since(cur, prev *hdr.Snapshot) *hdr.Histogram {
	d := *cur
	d.Counts = append([]int64(nil), cur.Counts...)
	if prev != nil && len(prev.Counts) == len(d.Counts) {
		for i, c := range prev.Counts {
			d.Counts[i] -= c
		}
	}
	return hdr.Import(&d)
}

// checkRemoteWriteURL says what is wrong with a metrics_remote_write value.
func checkRemoteWriteURL(v string, a *hcl.Attribute) hcl.Diagnostics {
	if err := RemoteWriteURLError(v); err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid metrics_remote_write",
			Detail: fmt.Sprintf("metrics_remote_write must be the http or https URL of a Prometheus remote-write endpoint, such as \"http://127.0.0.1:9090/api/v1/write\": %v.", err), Subject: a.Expr.Range().Ptr()}}
	}
	return nil
}

// RemoteWriteURLError says why v is not a remote-write URL, or nil.
func RemoteWriteURLError(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL with a host", v)
	}
	return nil
}
