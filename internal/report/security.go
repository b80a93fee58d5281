package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"

	"github.com/cloudtest/cloudtest/internal/deploy"
	"github.com/cloudtest/cloudtest/internal/result"
)

func init() { kindSections["security"] = securitySection }

// severityOrder lists severities from the most serious, for grouping.
var severityOrder = []string{"critical", "high", "medium", "low", "info"}

// severityGroup is the findings of one severity, by check.
type severityGroup struct {
	Severity string
	Checks   []checkGroup
	Count    int
}

type checkGroup struct {
	Check    string
	Findings []result.Finding
}

type securityView struct {
	result.SecuritySummary
	DrillReports []deploy.EvidenceItem
	Groups       []severityGroup
	// Tally counts findings by status: open, waived, expected.
	Tally map[string]int
}

var secTemplate = template.Must(template.New("sec").Funcs(template.FuncMap{
	"evidence": evidenceText,
	"join":     func(s []string) string { return strings.Join(s, ", ") },
	"f1":       func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"pct":      func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"timeline": drillTimeline,
	"anchor":   anchor,
	"limit": func(ms float64) string {
		if ms >= 1000 {
			return fmt.Sprintf("%g s", ms/1000)
		}
		return fmt.Sprintf("%g ms", ms)
	},
}).Parse(`
<div class="security">
<p>Scope: <code>{{join .Scope}}</code> · {{.Requests}} requests sent{{if .Refused}} · <span class="error">{{.Refused}} refused before leaving (outside the scope or over its budget)</span>{{end}}</p>
{{with .Checks}}<table><tr><th>Check</th><th>Findings</th><th></th></tr>
{{range .}}<tr><td>{{.Name}}</td><td>{{.Findings}}</td><td>{{if .Error}}<span class="error">could not be carried out: {{.Error}}</span>{{end}}</td></tr>{{end}}</table>{{end}}
{{if .Findings}}<p><strong>{{len .Findings}} findings</strong>: {{index .Tally "open"}} open, {{index .Tally "waived"}} waived{{if .Expected}}, {{index .Tally "expected"}} expected (planted in this negative control){{end}}.</p>{{end}}
{{range .Groups}}<h4 class="sev-{{.Severity}}" style="color: {{if or (eq .Severity "critical") (eq .Severity "high")}}var(--bad){{else if eq .Severity "medium"}}var(--warn){{else}}var(--muted){{end}}">{{.Severity}} ({{.Count}})</h4>
{{range .Checks}}<table class="findings" style="table-layout: fixed"><colgroup><col style="width: 36%"><col style="width: 26%"><col style="width: 16%"><col style="width: 22%"></colgroup><tr><th colspan="4">{{.Check}}</th></tr>
{{range .Findings}}<tr class="{{if eq .Status "open"}}row-failed{{end}}"><td><code>{{.ID}}</code><br>{{.Title}}</td><td><code>{{.Where}}</code></td><td><span class="oc {{if eq .Status "open"}}failed{{else}}waived{{end}}">{{.Status}}</span>{{with .Waiver}}<br><span class="muted">{{.}}</span>{{end}}</td><td>{{.Reference}}</td></tr>
<tr><td colspan="4">{{.Detail}}{{with .Evidence}}<details><summary>Evidence</summary><pre>{{evidence .}}</pre></details>{{end}}</td></tr>{{end}}
</table>{{end}}{{end}}
{{with .Expected}}<p class="muted">Expected findings (negative control): {{join .}}</p>{{end}}
{{with .Missing}}<p class="warning">Planted weaknesses not found (a check has gone blind): {{join .}}</p>{{end}}
{{with .Waivers}}<h4>Waivers of findings</h4><table><tr><th>Finding</th><th>Where</th><th>Reason</th><th>Approver</th><th>Expires</th><th>Accepted</th></tr>
{{range .}}<tr><td><code>{{.Finding}}</code></td><td>{{if .Where}}<code>{{.Where}}</code>{{else}}anywhere{{end}}</td><td>{{.Reason}}</td><td>{{.Approver}}</td><td>{{.Expires}}{{if .Expired}} <span class="oc expired">expired</span>{{end}}</td><td>{{.Matched}}</td></tr>{{end}}</table>{{end}}
{{range .Drills}}<h4>Drill {{.Name}}: detection coverage {{pct .Coverage}} (required {{pct .MinCoverage}})</h4>
<table><tr><th>Attack</th><th>MITRE ATT&amp;CK</th><th>Technique</th><th>Requests</th><th>Outcome</th><th>Seen by</th><th>Time to detect</th><th>Limit</th></tr>
{{range .Attacks}}<tr class="{{if eq .Outcome "missed" "error"}}row-failed{{end}}"><td>{{.Name}}</td><td>{{with .MITRE}}<code>{{.}}</code>{{end}}</td><td>{{.Technique}}</td><td>{{.Requests}}</td><td class="oc {{if eq .Outcome "missed" "error"}}failed{{else}}met{{end}}">{{.Outcome}}</td><td>{{.Channel}}</td><td>{{if .TimeToDetectMS}}{{f1 .TimeToDetectMS}} ms{{else}}–{{end}}</td><td>{{limit .WithinMS}}</td></tr>
{{if or .Message .Evidence}}<tr><td colspan="8">{{.Message}}{{with .Evidence}}<details><summary>What the defence showed</summary><pre>{{.}}</pre></details>{{end}}</td></tr>{{end}}{{end}}
</table>{{timeline .}}{{end}}
{{with .DrillReports}}<h4>Drill reports of qualified teams (evidence)</h4><ul>{{range .}}<li><a href="#evidence-{{anchor .Name}}">{{.Name}}</a>{{with .Issuer}} by {{.}}{{end}}{{with .ValidUntil}}, valid until {{.}}{{end}}: <span class="oc {{.State}}">{{.State}}</span>{{with .Message}} <span class="muted">{{.}}</span>{{end}}</li>{{end}}</ul>{{end}}
</div>`))

// securitySection renders a security suite: the scope, the checks, the
// findings by severity and check (evidence escaped by html/template), the
// waivers and the drills with their timelines.
func securitySection(s *Suite) template.HTML {
	var sum result.SecuritySummary
	if len(s.Data) == 0 || json.Unmarshal(s.Data, &sum) != nil {
		return ""
	}
	v := securityView{SecuritySummary: sum, DrillReports: s.DrillReports, Tally: map[string]int{}}
	for _, sev := range severityOrder {
		g := severityGroup{Severity: sev}
		byCheck := map[string]int{}
		for _, f := range sum.Findings {
			if f.Severity != sev {
				continue
			}
			g.Count++
			v.Tally[f.Status]++
			i, ok := byCheck[f.Check]
			if !ok {
				i = len(g.Checks)
				byCheck[f.Check] = i
				g.Checks = append(g.Checks, checkGroup{Check: f.Check})
			}
			g.Checks[i].Findings = append(g.Checks[i].Findings, f)
		}
		if g.Count > 0 {
			v.Groups = append(v.Groups, g)
		}
	}
	var b bytes.Buffer
	if err := secTemplate.Execute(&b, v); err != nil {
		return template.HTML(template.HTMLEscapeString(err.Error()))
	}
	return template.HTML(b.String())
}

// evidenceText is the exchange as text; for TLS and TCP evidence the
// excerpt (the certificate) follows the address.
func evidenceText(x *result.Exchange) string {
	if x.Protocol == "http" || x.Protocol == "sql" {
		return exchangeText(x)
	}
	t := exchangeText(x)
	if x.ResponseBody != "" {
		t += x.ResponseBody + "\n"
	}
	return t
}

// drillTimeline draws each attack as a bar from its first request to the
// last answer, and a mark where the defence's sign was seen (or the time
// limit, hatched red, when none was); every value in it is a number
// formatted here or a name escaped here.
func drillTimeline(d result.DrillRun) template.HTML {
	if len(d.Attacks) == 0 {
		return ""
	}
	end := 1.0
	for _, a := range d.Attacks {
		// Scaled to what happened; a time limit counts only where it ran out.
		end = max(end, a.SentMS, a.DetectMS)
		if a.Outcome == "missed" {
			end = max(end, a.StartMS+a.WithinMS)
		}
	}
	const w, row, pad, label = 640.0, 22.0, 10.0, 170.0
	h := float64(len(d.Attacks))*row + 30
	x := func(ms float64) float64 { return label + (w-label-pad)*ms/end }
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" role="img" aria-label="drill timeline">`, w, h)
	for i, a := range d.Attacks {
		y := float64(i)*row + 4
		fmt.Fprintf(&sb, `<text x="0" y="%.1f" font-size="11">%s</text>`, y+12, template.HTMLEscapeString(a.Name))
		fmt.Fprintf(&sb, `<rect x="%.1f" y="%.1f" width="%.1f" height="10" fill="#8ab4f8"><title>attack sent: %.1f–%.1f ms</title></rect>`,
			x(a.StartMS), y+3, max(x(a.SentMS)-x(a.StartMS), 2), a.StartMS, a.SentMS)
		switch a.Outcome {
		case "blocked", "detected":
			fmt.Fprintf(&sb, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#1b7f3b" stroke-width="2"/>`, x(a.StartMS), x(a.DetectMS), y+8, y+8)
			fmt.Fprintf(&sb, `<circle cx="%.1f" cy="%.1f" r="5" fill="#1b7f3b"><title>%s by %s after %.1f ms</title></circle>`,
				x(a.DetectMS), y+8, template.HTMLEscapeString(a.Outcome), template.HTMLEscapeString(a.Channel), a.TimeToDetectMS)
		case "missed":
			fmt.Fprintf(&sb, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#b3261e" stroke-width="2" stroke-dasharray="4 3"><title>missed: nothing seen within %.0f ms</title></line>`,
				x(a.StartMS), x(a.StartMS+a.WithinMS), y+8, y+8, a.WithinMS)
		}
	}
	fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" font-size="10">0 ms</text><text x="%.0f" y="%.0f" font-size="10" text-anchor="end">%.0f ms · bar: attack sent, dot: detection seen</text></svg>`,
		label, h-4, w-pad, h-4, end)
	return template.HTML(sb.String())
}
