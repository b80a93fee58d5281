package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"strings"

	"github.com/cloudtest/cloudtest/internal/result"
)

func init() {
	kindSections["reliability"] = reliabilitySection
	kindParts["reliability"] = reliabilityParts
}

// reliabilityParts puts an experiment whose run ended before the suite
// did (kill -9, a power cut) together from the parts it wrote as it ran:
// every probe and acknowledged write up to the last part and the figures
// measured then. The suite did not finish, so it counts as skipped and
// makes the verdict INCOMPLETE.
func reliabilityParts(s *Suite, parts []json.RawMessage) {
	var exp *result.Experiment
	var last result.ExperimentPart
	var writes []result.LedgerWrite
	written := 0
	for _, raw := range parts {
		var p result.ExperimentPart
		if json.Unmarshal(raw, &p) != nil {
			continue
		}
		if p.Experiment != nil {
			e := *p.Experiment
			exp = &e
			continue
		}
		if exp == nil {
			continue
		}
		exp.Probes = append(exp.Probes, p.Probes...)
		writes = append(writes, p.Writes...)
		written = max(written, p.Written)
		last = p
	}
	if exp == nil {
		return
	}
	slices.SortStableFunc(exp.Probes, func(a, b result.Probe) int { return cmp.Compare(a.DueMS, b.DueMS) })
	exp.WindowS = last.AtS
	exp.ProbesOK, exp.ProbesFailed, exp.ProbesInFlightMax = last.ProbesOK, last.ProbesFailed, last.ProbesInFlightMax
	exp.OutageS, exp.Availability, exp.RTOS, exp.Recovered = last.OutageS, last.Availability, last.RTOS, last.Recovered
	if last.Faults != nil {
		where := map[string]string{}
		for _, f := range exp.Faults {
			where[f.Name] = f.Location
		}
		exp.Faults = last.Faults
		for i := range exp.Faults {
			exp.Faults[i].Location = where[exp.Faults[i].Name]
		}
	}
	if written > 0 {
		exp.Ledger = &result.Ledger{Written: written, Acknowledged: len(writes)}
	}
	exp.Unfinished = true
	// A fault still in place when the run ended (injected, never
	// removed): its outage had not ended, whatever the probes that had
	// come back said (those waiting on a frozen target never did).
	inPlace := 0
	for i := range exp.Faults {
		if f := &exp.Faults[i]; f.Injected && !f.Removed && !f.External {
			f.Recovered, exp.Recovered = false, false
			inPlace++
		}
	}
	data, err := json.Marshal(exp)
	if err != nil {
		return
	}
	s.Ran, s.Status, s.Data = true, result.Skipped, data
	s.DurationMS = last.AtS * 1000
	s.Message = fmt.Sprintf("the run ended %.1f s into the experiment, before the suite finished (no result of its own was written): "+
		"%d probes (%d failed, down %.1f s) and %d acknowledged writes were measured until then and are shown; the writes were not read back, and faults may still be in place (run `cloudtest recover` on the run directory)",
		last.AtS, len(exp.Probes), exp.ProbesFailed, exp.OutageS, len(writes))
	if inPlace > 0 {
		s.Message += fmt.Sprintf("; %d fault(s) were still in place when it ended: not recovered, no RTO", inPlace)
	}
}

var relTemplate = template.Must(template.New("rel").Funcs(template.FuncMap{
	"s":   func(ms float64) string { return fmt.Sprintf("%.2f s", ms/1000) },
	"f1":  func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"pct": func(f float64) string { return fmt.Sprintf("%.3f %%", f*100) },
}).Parse(`
<div class="rel">
<p>Target {{.Target}}{{with .Tier}} (tier {{.}}){{end}} · window {{f1 .WindowS}} s · a probe every {{f1 .ProbeEveryMS}} ms, recovered after {{.RecoveredAfter}} successes in a row · availability {{pct .Availability}} (down {{f1 .OutageS}} s of {{f1 .WindowS}} s; {{.ProbesOK}} of {{len .Probes}} probes answered{{with .ProbesInFlightMax}}; at most {{.}} waiting for an answer at once{{end}})</p>
{{with .Aborted}}<p class="warning">Aborted: {{.}}</p>{{end}}
{{if .Unfinished}}<p class="warning">The run ended {{f1 .WindowS}} s into the experiment, before the suite finished: below is what was measured until then, from the parts written as it ran. The acknowledged writes were not read back; faults may still be in place (run <code>cloudtest recover</code> on the run directory).</p>{{else if .Interrupted}}<p class="warning">Interrupted during the experiment: every fault was removed; the measurements below stop there.</p>{{end}}
{{with .Objectives}}<table><tr><th>Objective</th><th>Limit</th><th>Measured</th><th>From</th><th></th></tr>
{{range .}}<tr><td>{{.Name}}</td><td>{{.Limit}}</td><td>{{.Measured}}</td><td>{{.Source}}</td><td class="st {{if .Passed}}passed{{else}}failed{{end}}">{{if .Passed}}met{{else}}not met{{end}}</td></tr>{{end}}
</table>{{end}}
<table><tr><th>Fault</th><th>Action</th><th>Engine</th><th>Injected</th><th>Removed</th><th>Outage from</th><th>Recovered</th><th>RTO</th><th></th></tr>
{{range .Faults}}<tr><td>{{.Name}}{{with .Location}} <span class="muted">{{.}}</span>{{end}}</td><td>{{.Action}} ({{.Kind}})</td><td>{{.Engine}}</td>
<td>{{if .External}}none injected (outage from the first failed probe){{else if .Injected}}{{s .InjectedMS}}{{else}}not injected{{end}}</td><td>{{if .Removed}}{{s .RemovedMS}}{{else}}–{{end}}</td>
<td>{{if .Outage}}{{s .OutageStartMS}}{{else}}no failed probe{{end}}</td><td>{{if .Recovered}}{{if .Outage}}{{s .RecoveredMS}}{{else}}–{{end}}{{else if .Injected}}not recovered{{end}}</td>
<td>{{if and .Injected (or .Recovered (not $.Unfinished))}}{{s .RTOMS}}{{else if .Injected}}not measured{{end}}</td><td>{{with .Error}}<span class="failed">{{.}}</span>{{end}}</td></tr>{{end}}
</table>
{{with .Ledger}}<h4>Write ledger</h4>
<p>{{.Written}} writes, {{.Acknowledged}} acknowledged, {{.Verified}} read back after recovery; {{if $.Unfinished}}RPO not measured: the run ended before the writes were read back{{else}}RPO {{printf "%.3f" .RPOS}} s{{end}}.</p>
{{if .Lost}}<p class="warning">{{len .Lost}} acknowledged writes were lost:</p><table><tr><th>seq</th><th>id</th><th>acknowledged at</th><th>read back</th></tr>{{range .Lost}}<tr><td>{{.Seq}}</td><td>{{.ID}}</td><td>{{s .AckedMS}}</td><td>{{.Message}}</td></tr>{{end}}</table>{{end}}
{{if .Duplicates}}<p class="warning">Duplicates: {{range .Duplicates}}{{.Seq}}{{with .ID}} ({{.}}){{end}}: {{.Message}}; {{end}}</p>{{end}}
{{if .OutOfOrder}}<p class="warning">Out of order: {{range .OutOfOrder}}{{.Seq}}: {{.Message}}; {{end}}</p>{{end}}
{{if .Unverified}}<p class="warning">Could not be read back: {{range .Unverified}}{{.Seq}}: {{.Message}}; {{end}}</p>{{end}}
{{end}}
</div>`))

// reliabilitySection renders an experiment: the objectives, the faults with
// their outages and RTO, the ledger with every lost write, and the probe
// timeline as an inline SVG chart.
func reliabilitySection(s *Suite) template.HTML {
	var exp result.Experiment
	if len(s.Data) == 0 || json.Unmarshal(s.Data, &exp) != nil {
		return ""
	}
	var b bytes.Buffer
	if err := relTemplate.Execute(&b, exp); err != nil {
		return template.HTML(template.HTMLEscapeString(err.Error()))
	}
	b.WriteString(probeChart(exp))
	return template.HTML(b.String())
}

// probeChart draws every probe at its time, its height the latency (green
// when it answered, red when not), with the faults' active spans shaded
// and their recovery marked; every value in it is a number formatted here
// or an escaped name.
func probeChart(exp result.Experiment) string {
	if len(exp.Probes) < 2 {
		return ""
	}
	const w, h, pad = 640.0, 160.0, 30.0
	span := max(exp.WindowS*1000, exp.Probes[len(exp.Probes)-1].AtMS, 1)
	maxLat := 1.0
	for _, p := range exp.Probes {
		maxLat = max(maxLat, p.LatencyMS)
	}
	x := func(ms float64) float64 { return pad + ms/span*(w-2*pad) }
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" role="img" aria-label="probe timeline">`, w, h+34)
	fmt.Fprintf(&sb, `<text x="%.0f" y="12" font-size="11">probes over time (height: latency, max %.0f ms; red: failed); shaded: fault active; dashed: recovered</text>`, pad, maxLat)
	for _, f := range exp.Faults {
		if !f.Injected {
			continue
		}
		end := f.RemovedMS
		if !f.Removed || end <= f.InjectedMS {
			end = f.InjectedMS + max(span/200, 1)
		}
		fmt.Fprintf(&sb, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="#fce8e6"><title>%s: %s from %.2f s</title></rect>`,
			x(f.InjectedMS), pad-10, max(x(end)-x(f.InjectedMS), 2), h-pad+10, template.HTMLEscapeString(f.Name), template.HTMLEscapeString(f.Action), f.InjectedMS/1000)
		if f.Outage && f.Recovered {
			fmt.Fprintf(&sb, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#188038" stroke-dasharray="4 3"><title>%s recovered at %.2f s (RTO %.2f s)</title></line>`,
				x(f.RecoveredMS), x(f.RecoveredMS), pad-10, h, template.HTMLEscapeString(f.Name), f.RecoveredMS/1000, f.RTOMS/1000)
		}
	}
	for _, p := range exp.Probes {
		bh := max(p.LatencyMS/maxLat*(h-pad), 2)
		fill := "#81c995"
		if !p.OK {
			fill = "#d93025"
		}
		fmt.Fprintf(&sb, `<rect x="%.1f" y="%.1f" width="2" height="%.1f" fill="%s"><title>%.2f s: %s, %.1f ms</title></rect>`,
			x(p.AtMS)-1, h-bh, bh, fill, p.AtMS/1000, probeWord(p), p.LatencyMS)
	}
	fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" font-size="10">0 s</text><text x="%.0f" y="%.0f" font-size="10">%.1f s</text></svg>`, pad, h+14, w-pad-20, h+14, span/1000)
	return sb.String()
}

func probeWord(p result.Probe) string {
	if p.OK {
		return "answered"
	}
	return "failed: " + template.HTMLEscapeString(p.Error)
}
