package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"

	"github.com/cloudtest/cloudtest/internal/result"
)

func init() {
	kindSections["performance"] = performanceSection
	kindParts["performance"] = performanceParts
}

// performanceParts puts a load whose run ended before the suite did
// (kill -9, a power cut) together from the last part it wrote as it ran:
// its totals up to then. The suite did not finish, so it counts as
// skipped and makes the verdict INCOMPLETE; no limit was judged.
func performanceParts(s *Suite, parts []json.RawMessage) {
	var last *result.LoadSummary
	for _, raw := range parts {
		var ls result.LoadSummary
		if json.Unmarshal(raw, &ls) == nil && ls.Unfinished {
			last = &ls
		}
	}
	if last == nil {
		return
	}
	data, err := json.Marshal(last)
	if err != nil {
		return
	}
	o := last.Overall
	s.Ran, s.Status, s.Data = true, result.Skipped, data
	s.DurationMS = last.DurationS * 1000
	s.Message = fmt.Sprintf("the run ended %.1f s into the load, before the suite finished (no result of its own was written): "+
		"%d requests (%d errors, success %.2f%%, p99 %.1f ms) were measured until then and are shown; no limit was judged; the raw results up to then are in %s",
		last.DurationS, o.Requests, o.Errors, o.Success*100, o.LatencyMS.P99, last.Raw)
}

var perfTemplate = template.Must(template.New("perf").Funcs(template.FuncMap{
	"f1":  func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"pct": func(f float64) string { return fmt.Sprintf("%.2f%%", f*100) },
	"f2":  func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"ratio": func(a, b float64) string {
		if b == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", a/b)
	},
}).Parse(`
<div class="perf">
<p>{{.Model}} model{{if .TargetRate}}, target {{f1 .TargetRate}}/s{{end}}{{if .Concurrency}}, {{.Concurrency}} virtual users{{end}}, {{f1 .DurationS}} s · raw results: <code>{{.Raw}}</code> (<code>vegeta report</code> reads it)</p>
{{if .Unfinished}}<p class="warning">The run ended {{f1 .DurationS}} s into the load, before the suite finished: below are the totals measured until then, from the last part written as it ran. No limit was judged.</p>{{end}}
{{with .Note}}<p class="warning">{{.}}</p>{{end}}
{{with .Thresholds}}<table><tr><th>Limit in force</th><th>Limit</th><th>Set by</th><th>Measured</th><th></th></tr>
{{range .}}<tr><td>{{.Scope}} {{.Metric}}</td><td>{{.Limit}}</td><td>{{if eq .Source "default"}}default{{else}}<code>{{.Source}}</code>{{end}}</td><td>{{.Measured}}</td><td class="st {{if .Passed}}passed{{else}}failed{{end}}">{{if .Passed}}passed{{else}}broken{{end}}</td></tr>{{end}}
</table>{{end}}
{{with .Generator}}<p class="muted">Generator: {{.Sent}} of {{.Due}} due sent ({{f1 .AchievedRate}}/s of {{f1 .DueRate}}/s, max_workers {{.MaxWorkers}}).
Its own lag, from when a journey was due to when a worker began it (not charged to the target): p50 {{f2 .WakeDelayMS.P50}} ms, p99 {{f2 .WakeDelayMS.P99}} ms, max {{f2 .WakeDelayMS.Max}} ms.
{{if .Waited}}{{.Waited}} waited for a free worker, every one busy (the target's backpressure, charged from their due time): wait p50 {{f1 .WaitMS.P50}} ms, p99 {{f1 .WaitMS.P99}} ms, max {{f1 .WaitMS.Max}} ms.{{else}}None waited for a free worker.{{end}}</p>{{end}}
{{with .Generators}}<h4>{{len .}} generators (runner {{$.Runner}}), merged above: counts summed, percentiles from their merged histograms</h4>
<table><tr><th>Generator</th><th>Where</th><th>Requests</th><th>Errors</th><th>Achieved rate</th><th>Due rate</th><th>CPU (s)</th><th>CPU (% of a core)</th><th></th></tr>
{{range .}}<tr><td>{{.Index}}</td><td>{{.Location}}</td><td>{{.Requests}}</td><td>{{.Errors}}</td><td>{{f2 .AchievedRate}}/s</td><td>{{if .DueRate}}{{f2 .DueRate}}/s{{end}}</td><td>{{f2 .CPUSeconds}}</td><td>{{f1 .CPUPercent}}</td><td class="st {{if .Failed}}failed{{else}}passed{{end}}">{{if .Failed}}{{.Failed}}{{else}}finished{{end}}</td></tr>{{end}}
</table>{{end}}
<table><tr><th></th><th>Requests</th><th>Errors</th><th>Success</th><th>TPS</th><th>min</th><th>mean</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max (ms)</th></tr>
{{define "row"}}<tr><td>{{.Name}}</td><td>{{.Requests}}</td><td>{{.Errors}}</td><td>{{pct .Success}}</td><td>{{f1 .TPS}}</td>{{with .LatencyMS}}<td>{{f1 .Min}}</td><td>{{f1 .Mean}}</td><td>{{f1 .P50}}</td><td>{{f1 .P90}}</td><td>{{f1 .P95}}</td><td>{{f1 .P99}}</td><td>{{f1 .P999}}</td><td>{{f1 .Max}}</td>{{end}}</tr>{{end}}
{{template "row" .Overall}}{{range .Journeys}}{{template "row" .}}{{end}}{{range .Steps}}{{template "row" .}}{{end}}
</table>
{{with .Overall.Codes}}<p class="muted">Status codes: {{range $k, $v := .}}{{$k}} × {{$v}} {{end}}</p>{{end}}
{{with .Overall.ErrorKinds}}<p class="muted">Errors: {{range $k, $v := .}}{{$k}} × {{$v}}{{with index $.Overall.ErrorSamples $k}}{{if ne . $k}} (first: <code>{{.}}</code>){{end}}{{end}}; {{end}}</p>{{end}}
{{with .Hops}}<h4>Where the time went (the target's Server-Timing)</h4><table><tr><th>hop</th><th>count</th><th>mean</th><th>p50</th><th>p99</th><th>max (ms)</th></tr>
{{range .}}<tr><td>{{.Name}}</td><td>{{.Count}}</td><td>{{f1 .MeanMS}}</td><td>{{f1 .P50MS}}</td><td>{{f1 .P99MS}}</td><td>{{f1 .MaxMS}}</td></tr>{{end}}</table>{{end}}
{{with .Utilization}}<p class="muted">Target utilization: {{if .Unmeasured}}not measured: {{.Unmeasured}}{{else}}CPU mean {{f1 .CPUMean}}%, max {{f1 .CPUMax}}% of one core; memory (RSS) mean {{f1 .RSSMeanMB}} MB, max {{f1 .RSSMaxMB}} MB; {{.Samples}} samples from {{.Source}}{{end}}</p>{{end}}
{{with .Compare}}{{$new := $.Overall}}<h4>Same load against {{.Target}} (before the move) and {{$.Target}} (after)</h4>
<table><tr><th></th><th>{{.Target}}</th><th>{{$.Target}}</th><th>ratio (after / before)</th></tr>
<tr><td>TPS</td><td>{{f1 .Overall.TPS}}</td><td>{{f1 $new.TPS}}</td><td>{{ratio $new.TPS .Overall.TPS}}</td></tr>
<tr><td>success</td><td>{{pct .Overall.Success}}</td><td>{{pct $new.Success}}</td><td>{{ratio $new.Success .Overall.Success}}</td></tr>
<tr><td>p50 (ms)</td><td>{{f1 .Overall.LatencyMS.P50}}</td><td>{{f1 $new.LatencyMS.P50}}</td><td>{{ratio $new.LatencyMS.P50 .Overall.LatencyMS.P50}}</td></tr>
<tr><td>p95 (ms)</td><td>{{f1 .Overall.LatencyMS.P95}}</td><td>{{f1 $new.LatencyMS.P95}}</td><td>{{ratio $new.LatencyMS.P95 .Overall.LatencyMS.P95}}</td></tr>
<tr><td>p99 (ms)</td><td>{{f1 .Overall.LatencyMS.P99}}</td><td>{{f1 $new.LatencyMS.P99}}</td><td>{{ratio $new.LatencyMS.P99 .Overall.LatencyMS.P99}}</td></tr>
{{if and .Utilization $.Utilization}}{{if and (not .Utilization.Unmeasured) (not $.Utilization.Unmeasured)}}<tr><td>CPU mean (%)</td><td>{{f1 .Utilization.CPUMean}}</td><td>{{f1 $.Utilization.CPUMean}}</td><td>{{ratio $.Utilization.CPUMean .Utilization.CPUMean}}</td></tr>
<tr><td>RSS max (MB)</td><td>{{f1 .Utilization.RSSMaxMB}}</td><td>{{f1 $.Utilization.RSSMaxMB}}</td><td>{{ratio $.Utilization.RSSMaxMB .Utilization.RSSMaxMB}}</td></tr>{{end}}{{end}}
</table>{{end}}
{{with .Baseline}}<h4>Against the baseline run {{.Run}}</h4>
<p class="{{if .Regressed}}warning{{else}}muted{{end}}">{{.Explanation}}</p>
<table><tr><th></th><th>baseline</th><th>this run</th></tr>
<tr><td>p50 (ms)</td><td>{{f1 .BaselineP50}}</td><td>{{f1 .CurrentP50}}</td></tr>
<tr><td>p99 (ms)</td><td>{{f1 .BaselineP99}}</td><td>{{f1 .CurrentP99}}</td></tr>
<tr><td>TPS</td><td>{{f1 .BaselineTPS}}</td><td>{{f1 .CurrentTPS}}</td></tr></table>
{{with .BaselineTPSNote}}<p class="muted">Baseline TPS: {{.}}.</p>{{end}}{{end}}
</div>`))

// performanceSection renders a performance suite's measurements: the
// thresholds, a table of latency percentiles, and TPS and p99 per second
// as an inline SVG chart.
func performanceSection(s *Suite) template.HTML {
	var ls result.LoadSummary
	if len(s.Data) == 0 || json.Unmarshal(s.Data, &ls) != nil {
		return ""
	}
	var b bytes.Buffer
	if err := perfTemplate.Execute(&b, ls); err != nil {
		return template.HTML(template.HTMLEscapeString(err.Error()))
	}
	b.WriteString(seriesChart(ls.Series))
	b.WriteString(histogramChart(ls.Histogram))
	return template.HTML(b.String())
}

// histogramChart draws how many requests took how long, one bar per
// power-of-two bucket; every value in it is a number formatted here.
func histogramChart(buckets []result.Bucket) string {
	if len(buckets) == 0 {
		return ""
	}
	const w, h, pad = 640.0, 140.0, 30.0
	var most int64 = 1
	for _, b := range buckets {
		most = max(most, b.Count)
	}
	bw := (w - 2*pad) / float64(len(buckets))
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" role="img" aria-label="latency histogram">`, w, h+30)
	fmt.Fprintf(&sb, `<text x="%.0f" y="12" font-size="11">requests by latency (ms, upper bound of each bucket)</text>`, pad)
	for i, b := range buckets {
		x := pad + float64(i)*bw
		bh := float64(b.Count) / float64(most) * (h - pad)
		fmt.Fprintf(&sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#81c995"><title>≤ %g ms: %d requests</title></rect>`,
			x, h-bh, max(bw-2, 1), bh, b.UpToMS, b.Count)
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.0f" font-size="9" text-anchor="middle">%g</text>`, x+bw/2, h+12, b.UpToMS)
	}
	sb.WriteString(`</svg>`)
	return sb.String()
}

// seriesChart draws requests per second (bars) and p99 per second (line);
// every value in it is a number the code formats itself.
func seriesChart(series []result.SecondSample) string {
	if len(series) < 2 {
		return ""
	}
	const w, h, pad = 640.0, 160.0, 30.0
	var maxReq, maxP99 float64
	for _, p := range series {
		maxReq = max(maxReq, float64(p.Requests))
		maxP99 = max(maxP99, p.P99MS)
	}
	maxReq, maxP99 = max(maxReq, 1), max(maxP99, 1)
	bw := (w - 2*pad) / float64(len(series))
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" role="img" aria-label="requests and p99 latency per second">`, w, h+20)
	fmt.Fprintf(&sb, `<text x="%.0f" y="12" font-size="11">requests/s (bars, max %.0f) and p99 ms (line, max %.1f)</text>`, pad, maxReq, maxP99)
	var line []string
	for i, p := range series {
		x := pad + float64(i)*bw
		bh := float64(p.Requests) / maxReq * (h - pad)
		fill := "#8ab4f8"
		if p.Errors > 0 {
			fill = "#f28b82"
		}
		fmt.Fprintf(&sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>second %d: %d requests, %d errors, p99 %.1f ms</title></rect>`,
			x, h-bh, max(bw-1, 1), bh, fill, p.Second, p.Requests, p.Errors, p.P99MS)
		line = append(line, fmt.Sprintf("%.1f,%.1f", x+bw/2, h-p.P99MS/maxP99*(h-pad)))
	}
	fmt.Fprintf(&sb, `<polyline points="%s" fill="none" stroke="#b3261e" stroke-width="1.5"/>`, strings.Join(line, " "))
	fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" font-size="10">0 s</text><text x="%.0f" y="%.0f" font-size="10">%d s</text></svg>`, pad, h+14, w-pad-20, h+14, series[len(series)-1].Second+1)
	return sb.String()
}
