// Package performance runs performance suites: weighted journeys of steps
// under an open model (a rate driven by vegeta's pacers, sent on schedule
// whatever the latency) or a closed model (virtual users with think time),
// bounded by a duration and a request count. It measures latency
// percentiles from HDR histograms, TPS, in-flight concurrency, status codes
// and errors, streams every request to load/<suite>.bin in vegeta's
// encoding, and checks thresholds.
//
// A load of one static HTTP request is sent built once (the fast path,
// engine "static requests"). Not yet here (issue 4): the sine pacer, Server-Timing
// breakdowns, Docker and Prometheus utilization.
package performance

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/step"
)

// Kind is the performance block kind, for the loader's list of kinds.
var Kind = runner.NewKind("performance", decode, Schema)

// Suite is a decoded performance block.
type Suite struct {
	config.SuiteCommon
	Load       Load
	Journeys   []*Journey
	Thresholds Thresholds
	// Marker is the header that marks load-test traffic (X-Cloudtest-Run: <run id>).
	Marker string
	// Compare names a second target (the legacy deployment) that gets the
	// same load after the first, for a side-by-side comparison.
	Compare string
	Feed    *Feed
	// Utilization, when set, asks Prometheus for the target's CPU and memory.
	Utilization *PromUtilization
	// MetricsRemoteWrite is a Prometheus remote-write URL that gets the
	// load's live figures (see remotewrite.go); it wins over the run's
	// --metrics-remote-write.
	MetricsRemoteWrite      string
	MetricsRemoteWriteRange hcl.Range
}

// A Suite can run: the compiler checks what the plan needs.
var _ runner.Suite = (*Suite)(nil)

// Load says how much load and for how long.
type Load struct {
	// Open model: Rate journeys per second, reached linearly over Ramp; or
	// Stages, each going linearly from the previous rate to its own.
	Rate   float64
	Ramp   time.Duration
	Stages []Stage
	// Pacer is constant (default) or sine: Rate ± Amplitude over Period.
	Pacer     string
	Amplitude float64
	Period    time.Duration
	// Closed model: Concurrency virtual users, each waiting ThinkTime between journeys.
	Concurrency int
	ThinkTime   time.Duration
	Duration    time.Duration
	MaxRequests int
	// MaxWorkers bounds the journeys in flight in the open model.
	MaxWorkers int
	// Workers is how many generators share the load (0: this process
	// alone), started by Runner (see distribute.go).
	Workers     int
	Runner      string
	RunnerRange hcl.Range
	// Pods is the kubernetes block: how runner = "kubernetes" runs the
	// generator pods (fleet_kube.go).
	Pods      *PodSpec
	DeclRange hcl.Range
	// seg is the share of the load this generator sends (a worker's).
	seg segment
}

// Journey is an ordered list of steps, chosen in proportion to its weight.
type Journey struct {
	Name   string
	Weight int
	Steps  []*step.Step
	// Think is the pause before each step (a step's think_time: the user
	// reading the page before the next click), zero where none was given.
	// It is not in any latency: a step counts from the end of its pause,
	// and the journey's time is its steps' times.
	Think []time.Duration
}

// thinkSchema is the attribute a journey's step has beyond the steps of
// other suites.
var thinkSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "think_time"}}}

// Thresholds are limits on what is measured.
type Thresholds struct {
	P50, P95, P99 time.Duration
	Success       float64 // minimum success ratio, 0..1
	MinTPS        float64
	MaxErrorRate  float64
	// RateKept is the least share of the journeys due that the generator
	// must send (open model); defaultRateKept when not set.
	RateKept float64
	// Regression is the relative slowdown against a baseline run that fails
	// the suite (when also significant); 0.10 when not set.
	Regression float64
	set        map[string]hcl.Range
	DeclRange  hcl.Range
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "marker_header"}, {Name: "compare"}, {Name: "metrics_remote_write"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "load"}, {Type: "journey", LabelNames: []string{"name"}}, {Type: "thresholds"}, {Type: "feed"}, {Type: "utilization"},
	},
}

var loadSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "rate"}, {Name: "ramp"}, {Name: "concurrency"}, {Name: "think_time"},
		{Name: "duration"}, {Name: "max_requests"}, {Name: "max_workers"},
		{Name: "pacer"}, {Name: "amplitude"}, {Name: "period"},
		{Name: "workers"}, {Name: "runner"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "stage"}, {Type: "kubernetes"}},
}

var stageSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "duration", Required: true}, {Name: "rate", Required: true}}}

var journeySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "weight"}},
	Blocks:     []hcl.BlockHeaderSchema{step.BlockSchema},
}

var thresholdSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "p50"}, {Name: "p95"}, {Name: "p99"}, {Name: "success"}, {Name: "min_tps"}, {Name: "max_error_rate"}, {Name: "regression"}, {Name: "rate_kept"},
}}

func decode(common *config.SuiteCommon, body hcl.Body, dc *config.DecodeContext) (runner.Suite, hcl.Diagnostics) {
	s := &Suite{SuiteCommon: *common, Marker: "X-Cloudtest-Run"}
	content, diags := body.Content(schema)
	var d hcl.Diagnostics
	if a, ok := content.Attributes["marker_header"]; ok {
		s.Marker, d = dc.String(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["compare"]; ok {
		s.Compare, d = dc.TargetRef(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["metrics_remote_write"]; ok {
		s.MetricsRemoteWrite, d = dc.String(a)
		s.MetricsRemoteWriteRange = a.Range
		diags = append(diags, d...)
		diags = append(diags, checkRemoteWriteURL(s.MetricsRemoteWrite, a)...)
	}
	loads := 0
	for _, b := range content.Blocks {
		switch b.Type {
		case "load":
			loads++
			d = decodeLoad(&s.Load, b, dc)
		case "journey":
			var j *Journey
			j, d = decodeJourney(b, dc)
			s.Journeys = append(s.Journeys, j)
		case "thresholds":
			d = decodeThresholds(&s.Thresholds, b, dc)
		case "feed":
			s.Feed, d = decodeFeed(b, dc)
		case "utilization":
			s.Utilization, d = decodeUtilization(b, dc)
		}
		diags = append(diags, d...)
	}
	if loads == 1 && !diags.HasErrors() {
		diags = append(diags, s.checkPodTargets(dc)...)
	}
	if loads != 1 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Performance suite needs one load block",
			Detail: fmt.Sprintf("Performance suite %q must have exactly one load { rate = 100, duration = \"30s\" } block; it has %d.", s.Name, loads), Subject: s.DeclRange.Ptr()})
	}
	if len(s.Journeys) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Performance suite without a journey",
			Detail: fmt.Sprintf("Performance suite %q needs at least one journey \"name\" { step ... } block.", s.Name), Subject: s.DeclRange.Ptr()})
	}
	return s, diags
}

func decodeLoad(l *Load, b *hcl.Block, dc *config.DecodeContext) hcl.Diagnostics {
	content, diags := b.Body.Content(loadSchema)
	l.DeclRange = b.DefRange
	diags = append(diags, decodeLoadAttrs(l, content.Attributes, dc)...)
	// Values that cannot be right are refused on their own line; the checks
	// of the block as a whole below would only repeat them less precisely.
	if !diags.HasErrors() {
		lim := limits{attrs: content.Attributes}
		lim.rate("rate", l.Rate, true)
		lim.rate("amplitude", l.Amplitude, false)
		lim.count("concurrency", l.Concurrency, maxGoroutines)
		lim.count("max_requests", l.MaxRequests, 0)
		lim.count("max_workers", l.MaxWorkers, maxGoroutines)
		lim.positive("duration", l.Duration)
		lim.positive("period", l.Period)
		diags = append(diags, lim.diags...)
	}
	if l.Pacer == "sine" && !diags.HasErrors() && (l.Period <= 0 || l.Amplitude <= 0 || l.Amplitude > l.Rate) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incomplete sine pacer",
			Detail: "A sine pacer needs rate (the mean), amplitude (above zero, at most the rate) and period, such as rate = 100, amplitude = 50, period = \"10s\".", Subject: b.DefRange.Ptr()})
	}
	for _, sb := range content.Blocks {
		if sb.Type == "kubernetes" {
			diags = append(diags, decodePods(l, sb, dc)...)
			continue
		}
		st, stageDiags := decodeStage(sb, dc)
		diags = append(diags, stageDiags...)
		l.Stages = append(l.Stages, st)
	}
	diags = append(diags, resolveStages(l, b)...)
	if (l.Rate > 0) == (l.Concurrency > 0) && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Choose one load model",
			Detail: "A load block takes either rate (an open model: journeys started per second) or concurrency (a closed model: virtual users), and it must be above zero.", Subject: b.DefRange.Ptr()})
	}
	if l.Duration <= 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unbounded load",
			Detail: "duration must be longer than zero: every load stops by itself.", Subject: b.DefRange.Ptr()})
	}
	if l.MaxWorkers == 0 {
		l.MaxWorkers = 1024
	}
	return append(diags, decodeWorkers(l, content.Attributes, dc, diags.HasErrors())...)
}

// decodeLoadAttrs reads the load block's attributes into l, each as its
// type; the pacer is constant unless the block says otherwise.
func decodeLoadAttrs(l *Load, attrs hcl.Attributes, dc *config.DecodeContext) hcl.Diagnostics {
	var diags, d hcl.Diagnostics
	if a, ok := attrs["rate"]; ok {
		l.Rate, d = dc.Float(a)
		diags = append(diags, d...)
	}
	if a, ok := attrs["concurrency"]; ok {
		l.Concurrency, d = dc.Int(a)
		diags = append(diags, d...)
	}
	for name, dst := range map[string]*time.Duration{"ramp": &l.Ramp, "think_time": &l.ThinkTime, "duration": &l.Duration} {
		if a, ok := attrs[name]; ok {
			*dst, d = dc.Duration(a)
			diags = append(diags, d...)
		}
	}
	for name, dst := range map[string]*int{"max_requests": &l.MaxRequests, "max_workers": &l.MaxWorkers} {
		if a, ok := attrs[name]; ok {
			*dst, d = dc.Int(a)
			diags = append(diags, d...)
		}
	}
	l.Pacer = "constant"
	if a, ok := attrs["pacer"]; ok {
		l.Pacer, d = dc.OneOf(a, "constant", "sine")
		diags = append(diags, d...)
	}
	if a, ok := attrs["amplitude"]; ok {
		l.Amplitude, d = dc.Float(a)
		diags = append(diags, d...)
	}
	if a, ok := attrs["period"]; ok {
		l.Period, d = dc.Duration(a)
		diags = append(diags, d...)
	}
	return diags
}

// decodeStage reads one stage block: its duration and its rate.
func decodeStage(sb *hcl.Block, dc *config.DecodeContext) (Stage, hcl.Diagnostics) {
	c, diags := sb.Body.Content(stageSchema)
	var st Stage
	var d hcl.Diagnostics
	if a, ok := c.Attributes["duration"]; ok {
		st.Duration, d = dc.Duration(a)
		diags = append(diags, d...)
	}
	if a, ok := c.Attributes["rate"]; ok {
		st.Rate, d = dc.Float(a)
		diags = append(diags, d...)
	}
	if !diags.HasErrors() {
		lim := limits{attrs: c.Attributes}
		lim.rate("rate", st.Rate, false)
		lim.positive("duration", st.Duration)
		diags = append(diags, lim.diags...)
	}
	return st, diags
}

// resolveStages makes l's stages its plan: with stages, the rate is their
// highest and the duration (unless given) their sum, and rate or ramp
// beside them is refused; a ramp alone is one stage up to the rate.
func resolveStages(l *Load, b *hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if len(l.Stages) > 0 {
		if l.Rate > 0 || l.Ramp > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Stages and rate",
				Detail: "A load block takes either stage blocks or rate (with an optional ramp), not both.", Subject: b.DefRange.Ptr()})
		}
		var total time.Duration
		for _, st := range l.Stages {
			total += st.Duration
			l.Rate = max(l.Rate, st.Rate)
		}
		if l.Duration == 0 {
			l.Duration = total
		}
	} else if l.Ramp > 0 {
		l.Stages = []Stage{{Duration: l.Ramp, Rate: l.Rate}}
	}
	return diags
}

// decodeThink reads a journey step's think_time and returns the step's
// block without it, for the step decoder.
func decodeThink(sb *hcl.Block, dc *config.DecodeContext) (time.Duration, *hcl.Block, hcl.Diagnostics) {
	content, remain, diags := sb.Body.PartialContent(thinkSchema)
	rest := *sb
	rest.Body = remain
	a, ok := content.Attributes["think_time"]
	if !ok {
		return 0, &rest, diags
	}
	d, dd := dc.Duration(a)
	diags = append(diags, dd...)
	if !dd.HasErrors() && d < 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
			Detail: "think_time must not be negative.", Subject: a.Expr.Range().Ptr()})
	}
	return d, &rest, diags
}

func decodeJourney(b *hcl.Block, dc *config.DecodeContext) (*Journey, hcl.Diagnostics) {
	content, diags := b.Body.Content(journeySchema)
	j := &Journey{Name: b.Labels[0], Weight: 1}
	if a, ok := content.Attributes["weight"]; ok {
		w, d := dc.Int(a)
		diags = append(diags, d...)
		if w < 1 && !d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail: "weight must be a whole number of at least 1.", Subject: a.Expr.Range().Ptr()})
		}
		j.Weight = w
	}
	for _, sb := range content.Blocks {
		think, rest, d := decodeThink(sb, dc)
		diags = append(diags, d...)
		st, d := step.DecodeWith(rest, dc, "feed")
		diags = append(diags, d...)
		if st != nil {
			j.Think = append(j.Think, think)
			if st.Eventually != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "eventually under load",
					Detail: "A step of a journey is measured once per request; polling with eventually would hide its latency.", Subject: st.DeclRange.Ptr()})
			}
			if !st.HasRequest() && !d.HasErrors() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Step without a request under load",
					Detail: "A step of a journey is one measured request; a step that only asserts belongs to a functional suite.", Subject: st.DeclRange.Ptr()})
			}
			j.Steps = append(j.Steps, st)
		}
	}
	if len(j.Steps) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Journey without steps",
			Detail: fmt.Sprintf("Journey %q needs at least one step.", j.Name), Subject: b.DefRange.Ptr()})
	}
	return j, diags
}

func decodeThresholds(t *Thresholds, b *hcl.Block, dc *config.DecodeContext) hcl.Diagnostics {
	content, diags := b.Body.Content(thresholdSchema)
	t.DeclRange, t.set = b.DefRange, map[string]hcl.Range{}
	var d hcl.Diagnostics
	for name, dst := range map[string]*time.Duration{"p50": &t.P50, "p95": &t.P95, "p99": &t.P99} {
		if a, ok := content.Attributes[name]; ok {
			*dst, d = dc.Duration(a)
			diags = append(diags, d...)
			t.set[name] = a.Range
		}
	}
	for name, dst := range map[string]*float64{"success": &t.Success, "min_tps": &t.MinTPS, "max_error_rate": &t.MaxErrorRate, "regression": &t.Regression, "rate_kept": &t.RateKept} {
		if a, ok := content.Attributes[name]; ok {
			*dst, d = dc.Float(a)
			diags = append(diags, d...)
			t.set[name] = a.Range
			if name != "min_tps" && !d.HasErrors() && !(*dst >= 0 && *dst <= 1) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
					Detail: fmt.Sprintf("%s is a ratio between 0 and 1, such as 0.999; found %g.", name, *dst), Subject: a.Expr.Range().Ptr()})
			}
		}
	}
	if !diags.HasErrors() {
		lim := limits{attrs: content.Attributes}
		lim.positive("p50", t.P50)
		lim.positive("p95", t.P95)
		lim.positive("p99", t.P99)
		lim.nonNegative("min_tps", t.MinTPS)
		diags = append(diags, lim.diags...)
	}
	return diags
}
