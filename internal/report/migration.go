package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudtest/cloudtest/internal/result"
)

func init() {
	kindSections["migration"] = migrationSection
	kindMarkdown["migration"] = migrationMarkdown
}

func migrationData(s *Suite) (result.MigrationSummary, bool) {
	var sum result.MigrationSummary
	if len(s.Data) == 0 || json.Unmarshal(s.Data, &sum) != nil {
		return sum, false
	}
	return sum, true
}

func reasonList(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

var migTemplate = template.Must(template.New("mig").Funcs(template.FuncMap{
	"join":    func(s []string) string { return strings.Join(s, ", ") },
	"reasons": reasonList,
	"seconds": seconds,
	"cell":    quotedValue,
	"kindWord": func(d result.RowDiff) string {
		switch d.Kind {
		case "missing":
			return "missing on the target"
		case "extra":
			return "extra on the target"
		case "duplicate":
			return "duplicate key on the " + d.Side
		}
		return "changed"
	},
}).Parse(`
<div class="migration">
<p>Source: <code>{{.Source.Driver}} {{.Source.Where}}</code> → target: <code>{{.Target.Driver}} {{.Target.Where}}</code>{{if .FixFile}} · <a href="{{.FixFile}}">{{.FixFile}}</a>: {{.FixStatements}} statements to review (never run by cloudtest){{end}}</p>
{{range .Tables}}<h4>Table {{.Name}}{{if ne .Name .Target}} → {{.Target}}{{end}} <span class="muted">{{with .Key}}key ({{join .}}) · {{end}}{{.Location}} · {{seconds .DurationMS}} s</span></h4>
{{with .Error}}<p class="error">{{.}}</p>{{end}}
{{with .Columns}}<details><summary>{{len .}} columns compared</summary><table style="font-size: 12px"><tr><th>Source column</th><th>Source type</th><th>Target column</th><th>Target type</th><th>Compared as</th></tr>
{{range .}}<tr><td>{{.Source}}</td><td><code>{{.SourceType}}</code></td><td>{{.Target}}</td><td><code>{{.TargetType}}</code></td><td>{{.Class}}{{if .Tolerance}} (± {{.Tolerance}}){{end}}</td></tr>{{end}}</table></details>{{end}}
<table><tr><th>Level</th><th>Status</th><th>What was found</th></tr>
{{range .Levels}}<tr class="{{if or (eq .Status "failed") (eq .Status "error")}}row-failed{{end}}"><td>{{.Level}}</td><td class="st {{.Status}}">{{.Status}}</td><td>{{.Message}}{{with .Findings}}<ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}{{with .Notes}}<div class="muted">{{range .}}{{.}}<br>{{end}}</div>{{end}}</td></tr>{{end}}
</table>
{{if not .Error}}<p>Rows: {{.SourceRows}} on the source, {{.TargetRows}} on the target; {{.Compared}} compared by key{{if gt .Ranges 1}} in {{.Ranges}} ranges{{end}}{{if .Checksummed}} ({{.Checksummed}} agreed by checksum in the databases, {{.Fetched}} fetched){{end}}. Differences: {{.Missing}} missing on the target, {{.Extra}} extra, {{.Changed}} changed{{with .Reasons}} ({{reasons .}}){{end}}, {{.Duplicates}} duplicate keys.</p>{{end}}
{{with .Diffs}}<table class="diffs" style="font-size: 12px"><tr><th>Row</th><th>Column</th><th>Source</th><th>Target</th><th>Why</th></tr>
{{range $d := .}}{{range $i, $c := $d.Cells}}<tr class="{{if $c.Differs}}row-failed{{end}}"{{if $c.Differs}} style="background: #fce8e6"{{end}}>{{if eq $i 0}}<td rowspan="{{len $d.Cells}}" style="vertical-align: top; border-top: 2px solid var(--line)"><strong>{{kindWord $d}}</strong><br><code>({{join $d.Key}})</code></td>{{end}}<td{{if eq $i 0}} style="border-top: 2px solid var(--line)"{{end}}>{{if $c.Differs}}<strong>{{$c.Column}}</strong>{{else}}{{$c.Column}}{{end}}</td><td{{if eq $i 0}} style="border-top: 2px solid var(--line)"{{end}}>{{if eq $c.Absent "source"}}<span class="muted">–</span>{{else}}<code>{{cell $c.Source $c.SourceNull}}</code>{{end}}</td><td{{if eq $i 0}} style="border-top: 2px solid var(--line)"{{end}}>{{if eq $c.Absent "target"}}<span class="muted">–</span>{{else}}<code>{{cell $c.Target $c.TargetNull}}</code>{{end}}</td><td{{if eq $i 0}} style="border-top: 2px solid var(--line)"{{end}}>{{with $c.Reason}}<span class="failed">{{.}}</span>{{end}}</td></tr>{{end}}{{end}}
</table>{{end}}
{{end}}
</div>`))

// migrationSection renders a migration suite: the two databases, and per
// table its levels with their findings, the counts and the differing rows
// side by side with the differing columns marked.
func migrationSection(s *Suite) template.HTML {
	sum, ok := migrationData(s)
	if !ok {
		return ""
	}
	var buf bytes.Buffer
	if err := migTemplate.Execute(&buf, sum); err != nil {
		return template.HTML(template.HTMLEscapeString(err.Error()))
	}
	return template.HTML(buf.String())
}

// migrationMarkdown writes a migration suite's tables for summary.md.
func migrationMarkdown(s *Suite) string {
	sum, ok := migrationData(s)
	if !ok {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### Migration %s: %s %s → %s %s\n\n", mdText(s.Name), sum.Source.Driver, mdText(sum.Source.Where), sum.Target.Driver, mdText(sum.Target.Where))
	b.WriteString("| table | schema | count | aggregates | rows | source rows | target rows | missing | extra | changed | duplicates |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, t := range sum.Tables {
		lv := map[string]string{}
		for _, l := range t.Levels {
			lv[l.Level] = string(l.Status)
		}
		get := func(l string) string {
			if v, ok := lv[l]; ok {
				return v
			}
			return "–"
		}
		name := t.Name
		if t.Target != t.Name {
			name += " → " + t.Target
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d | %d | %d | %d | %d | %d |\n", mdCell(name), get("schema"), get("count"), get("aggregates"), get("rows"),
			t.SourceRows, t.TargetRows, t.Missing, t.Extra, t.Changed, t.Duplicates)
	}
	for _, t := range sum.Tables {
		if len(t.Diffs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nDiffering rows of %s (first %d of %d):\n\n| row | column | source | target | why |\n| --- | --- | --- | --- | --- |\n", mdText(t.Name), len(t.Diffs), t.Missing+t.Extra+t.Changed+t.Duplicates)
		for _, d := range t.Diffs {
			for _, c := range d.Cells {
				if d.Kind == "changed" && !c.Differs {
					continue
				}
				src, tgt := mdValue(c.Source, c.SourceNull), mdValue(c.Target, c.TargetNull)
				if c.Absent == "source" {
					src = "–"
				}
				if c.Absent == "target" {
					tgt = "–"
				}
				col := mdCell(c.Column)
				if c.Differs {
					col = "**" + col + "**"
				}
				fmt.Fprintf(&b, "| %s (%s) | %s | %s | %s | %s |\n", d.Kind, mdCell(strings.Join(d.Key, ", ")), col, src, tgt, mdCell(c.Reason))
				if d.Kind != "changed" {
					break // the key is enough for a row that is on one side only
				}
			}
		}
	}
	if sum.FixFile != "" {
		fmt.Fprintf(&b, "\n`%s`: %d statements that would bring the target in line, for review (never run).\n", sum.FixFile, sum.FixStatements)
	}
	return b.String()
}

func mdValue(v string, null bool) string { return mdCell(quotedValue(v, null)) }

// quotedValue shows a value in quotes, so that a trailing space or an
// empty string can be seen, and NULL bare.
func quotedValue(v string, null bool) string {
	if null {
		return "NULL"
	}
	return strconv.Quote(v)
}
