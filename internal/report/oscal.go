package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/cloudtest/cloudtest/internal/deploy"
	"github.com/cloudtest/cloudtest/internal/result"
)

// OSCALFile is the run as a NIST OSCAL 1.0.6 assessment-results document.
const OSCALFile = "oscal-assessment-results.json"

// oscalNS qualifies the names of cloudtest's own OSCAL properties.
const oscalNS = "urn:cloudtest"

// oscalSpace is the namespace of the name-based (version 5) UUIDs of the
// document: the same run directory always renders the same UUIDs.
var oscalSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/cloudtest/cloudtest/oscal"))

type oscalDoc struct {
	AR oscalAR `json:"assessment-results"`
}

type oscalAR struct {
	UUID     string        `json:"uuid"`
	Metadata oscalMetadata `json:"metadata"`
	ImportAP oscalImportAP `json:"import-ap"`
	Results  []oscalResult `json:"results"`
}

type oscalMetadata struct {
	Title        string      `json:"title"`
	LastModified string      `json:"last-modified"`
	Version      string      `json:"version"`
	OSCALVersion string      `json:"oscal-version"`
	Props        []oscalProp `json:"props,omitempty"`
}

type oscalImportAP struct {
	Href    string `json:"href"`
	Remarks string `json:"remarks,omitempty"`
}

type oscalProp struct {
	Name  string `json:"name"`
	NS    string `json:"ns,omitempty"`
	Value string `json:"value"`
}

type oscalResult struct {
	UUID             string                `json:"uuid"`
	Title            string                `json:"title"`
	Description      string                `json:"description"`
	Start            string                `json:"start"`
	End              string                `json:"end,omitempty"`
	Props            []oscalProp           `json:"props,omitempty"`
	LocalDefinitions *oscalLocalDefs       `json:"local-definitions,omitempty"`
	ReviewedControls oscalReviewedControls `json:"reviewed-controls"`
	Observations     []oscalObservation    `json:"observations,omitempty"`
	Findings         []oscalFinding        `json:"findings,omitempty"`
	Remarks          string                `json:"remarks,omitempty"`
}

type oscalLocalDefs struct {
	Components []oscalComponent `json:"components,omitempty"`
}

type oscalComponent struct {
	UUID        string      `json:"uuid"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Props       []oscalProp `json:"props,omitempty"`
	Status      oscalState  `json:"status"`
}

type oscalState struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

type oscalReviewedControls struct {
	Description       string                  `json:"description,omitempty"`
	ControlSelections []oscalControlSelection `json:"control-selections"`
}

type oscalControlSelection struct {
	Description     string           `json:"description,omitempty"`
	IncludeAll      *struct{}        `json:"include-all,omitempty"`
	IncludeControls []oscalControlID `json:"include-controls,omitempty"`
}

type oscalControlID struct {
	ControlID string `json:"control-id"`
}

type oscalObservation struct {
	UUID             string          `json:"uuid"`
	Title            string          `json:"title,omitempty"`
	Description      string          `json:"description"`
	Props            []oscalProp     `json:"props,omitempty"`
	Methods          []string        `json:"methods"`
	Types            []string        `json:"types,omitempty"`
	Subjects         []oscalSubject  `json:"subjects,omitempty"`
	RelevantEvidence []oscalEvidence `json:"relevant-evidence,omitempty"`
	Collected        string          `json:"collected"`
}

type oscalSubject struct {
	SubjectUUID string `json:"subject-uuid"`
	Type        string `json:"type"`
	Title       string `json:"title,omitempty"`
}

type oscalEvidence struct {
	Href        string      `json:"href,omitempty"`
	Description string      `json:"description"`
	Props       []oscalProp `json:"props,omitempty"`
}

type oscalFinding struct {
	UUID                string          `json:"uuid"`
	Title               string          `json:"title"`
	Description         string          `json:"description"`
	Props               []oscalProp     `json:"props,omitempty"`
	Target              oscalTarget     `json:"target"`
	RelatedObservations []oscalRelation `json:"related-observations,omitempty"`
}

type oscalTarget struct {
	Type        string     `json:"type"`
	TargetID    string     `json:"target-id"`
	Title       string     `json:"title,omitempty"`
	Description string     `json:"description,omitempty"`
	Status      oscalState `json:"status"`
}

type oscalRelation struct {
	ObservationUUID string `json:"observation-uuid"`
}

// WriteOSCAL writes the run as an OSCAL assessment-results document: one
// result; the deployment's components as local components; one observation
// per suite, per security finding and per evidence item; one finding per
// requirement not met, per suite that failed and per open security finding.
// It is built from the model alone, which holds only redacted results, and
// carries no exchange: messages and finding details only.
func (m *Model) WriteOSCAL(w io.Writer) error {
	b := oscalBuilder{m: m, comps: map[string]string{}, obs: map[string]string{}}
	doc := b.build()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

type oscalBuilder struct {
	m     *Model
	comps map[string]string // component name -> uuid
	obs   map[string]string // "suite:NAME" or "evidence:NAME" -> observation uuid
}

func (b *oscalBuilder) id(parts ...string) string {
	return uuid.NewSHA1(oscalSpace, []byte(b.m.Run.ID+"\x00"+strings.Join(parts, "\x00"))).String()
}

func (b *oscalBuilder) build() oscalDoc {
	m := b.m
	start := oscalTime(m.Run.Started)
	end := start
	if !m.Run.Finished.IsZero() {
		end = oscalTime(m.Run.Finished)
	}
	project := m.Run.Project
	if project == "" {
		project = "cloudtest"
	}
	res := oscalResult{
		UUID:        b.id("result"),
		Title:       oneLine(fmt.Sprintf("Acceptance run %s of %s: %s", m.Run.ID, project, m.Verdict)),
		Description: "Verdict " + string(m.Verdict) + ".\n" + strings.Join(m.Reasons, "\n"),
		Start:       start,
		Props:       props("verdict", string(m.Verdict), "run-id", m.Run.ID, "source", m.Run.Source),
	}
	if !m.Run.Finished.IsZero() {
		res.End = end
	}
	if len(m.Run.Selection) > 0 {
		res.Props = append(res.Props, props("selection", strings.Join(m.Run.Selection, " "))...)
	}
	if m.Run.Interrupted {
		res.Remarks = "The run was interrupted: this result holds what was measured until then."
	}
	res.LocalDefinitions = b.components()
	res.ReviewedControls = b.controls()
	res.Observations = b.observations(end)
	res.Findings = b.findings()
	return oscalDoc{AR: oscalAR{
		UUID: b.id("assessment-results"),
		Metadata: oscalMetadata{
			Title:        oneLine("cloudtest acceptance of " + project),
			LastModified: end,
			Version:      m.Run.ID,
			OSCALVersion: "1.0.6",
			Props:        props("tool", "cloudtest "+m.Run.Version),
		},
		// The plan the run carried out is its run.json: the suites it
		// selected, in order, and where each is defined.
		ImportAP: oscalImportAP{Href: "run.json", Remarks: "The assessment plan is the suites that run.json lists (their HCL files and lines) and the responsibility matrix of acceptance.json."},
		Results:  []oscalResult{res},
	}}
}

// components are the deployment's components, or, without a deployment
// block, the components the suites name.
func (b *oscalBuilder) components() *oscalLocalDefs {
	var out []oscalComponent
	add := func(name, desc string, p []oscalProp) {
		if name == "" || b.comps[name] != "" {
			return
		}
		b.comps[name] = b.id("component", name)
		out = append(out, oscalComponent{UUID: b.comps[name], Type: "service", Title: name, Description: desc, Props: p,
			Status: oscalState{State: "operational"}})
	}
	if a := b.m.Acceptance; a != nil {
		for _, c := range a.Components {
			p := props("deployment-mode", c.Mode, "tier", c.Tier, "layers", strings.Join(c.Layers, " "), "vendor", c.Vendor)
			add(c.Name, fmt.Sprintf("Component %s of the %s deployment: %s cloud, layers %s, disaster-recovery tier %s.",
				c.Name, a.Mode, c.Mode, strings.Join(c.Layers, ", "), c.Tier), p)
		}
	}
	for _, s := range b.m.Suites {
		for _, c := range suiteComponents(s) {
			add(c, fmt.Sprintf("Component %s, as the suites name it.", c), nil)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return &oscalLocalDefs{Components: out}
}

func suiteComponents(s *Suite) []string {
	if len(s.Components) > 0 {
		return s.Components
	}
	if s.Component != "" {
		return []string{s.Component}
	}
	return nil
}

// controls: the requirements of the responsibility matrix, or every suite
// of the run when there is no deployment block.
func (b *oscalBuilder) controls() oscalReviewedControls {
	a := b.m.Acceptance
	if a == nil || len(a.Requirements) == 0 {
		return oscalReviewedControls{ControlSelections: []oscalControlSelection{{
			Description: "Every suite of the run; the suites declare no deployment, so there is no responsibility matrix.",
			IncludeAll:  &struct{}{},
		}}}
	}
	sel := oscalControlSelection{Description: fmt.Sprintf("The requirements of the responsibility matrix of the %s deployment.", a.Mode)}
	for _, r := range a.Requirements {
		sel.IncludeControls = append(sel.IncludeControls, oscalControlID{ControlID: token(r.ID)})
	}
	return oscalReviewedControls{ControlSelections: []oscalControlSelection{sel}}
}

func (b *oscalBuilder) subjects(names []string) []oscalSubject {
	var out []oscalSubject
	for _, n := range names {
		if id := b.comps[n]; id != "" {
			out = append(out, oscalSubject{SubjectUUID: id, Type: "component", Title: n})
		}
	}
	return out
}

func (b *oscalBuilder) observations(collected string) []oscalObservation {
	var out []oscalObservation
	for _, s := range b.m.Suites {
		o := b.suiteObservation(s, collected)
		b.obs["suite:"+s.Name] = o.UUID
		out = append(out, o)
		for i, f := range securityFindings(s) {
			fo := oscalObservation{
				UUID: b.id("finding", s.Name, fmt.Sprint(i)), Title: oneLine(f.Title),
				Description: strings.TrimSpace(fmt.Sprintf("%s (%s) at %s. %s", f.Title, f.Severity, f.Where, f.Detail)),
				Props:       props("finding-id", f.ID, "severity", f.Severity, "status", f.Status, "where", f.Where, "waiver", f.Waiver, "reference", f.Reference, "suite", s.Name),
				Methods:     []string{"TEST"},
				Types:       []string{"finding"},
				Subjects:    b.subjects(suiteComponents(s)),
				Collected:   collected,
			}
			b.obs[fmt.Sprintf("finding:%s:%d", s.Name, i)] = fo.UUID
			out = append(out, fo)
		}
	}
	if a := b.m.Acceptance; a != nil {
		for _, e := range a.Evidence {
			desc := fmt.Sprintf("Evidence %q (%s) declared at %s is %s.", e.Name, e.Kind, e.Location, e.State)
			if e.Message != "" {
				desc += "\n" + e.Message
			}
			o := oscalObservation{
				UUID: b.id("evidence", e.Name), Title: oneLine("evidence " + e.Name + " (" + e.Kind + ")"), Description: desc,
				Props:     props("evidence-kind", e.Kind, "state", e.State, "issuer", e.Issuer, "valid-until", e.ValidUntil, "location", e.Location),
				Methods:   []string{"EXAMINE"},
				Subjects:  b.subjects(e.Components),
				Collected: collected,
			}
			if e.Stored != "" {
				o.RelevantEvidence = []oscalEvidence{{Href: e.Stored, Description: "The evidence file as handed over, kept by its sha256.",
					Props: props("sha256", e.SHA256)}}
			}
			b.obs["evidence:"+e.Name] = o.UUID
			out = append(out, o)
		}
	}
	return out
}

// suiteObservation is the observation of one suite: what it ran and how
// it ended.
func (b *oscalBuilder) suiteObservation(s *Suite, collected string) oscalObservation {
	status := string(s.Status)
	if !s.Ran {
		status = "not run"
	}
	desc := fmt.Sprintf("The %s suite %q %s", s.Kind, s.Name, status)
	if s.Ran {
		desc += fmt.Sprintf(" in %s s: %d steps passed, %d failed, %d could not be carried out, %d skipped.",
			seconds(s.DurationMS), s.Steps.Passed, s.Steps.Failed, s.Steps.Errored, s.Steps.Skipped)
	} else {
		desc += "."
	}
	if msg := firstLine(s.Message); msg != "" {
		desc += "\n" + msg
	}
	return oscalObservation{
		UUID: b.id("suite", s.Name), Title: oneLine(s.Kind + " suite " + s.Name), Description: desc,
		Props:    props("suite-kind", s.Kind, "status", status, "location", s.Location, "target", s.Target),
		Methods:  []string{"TEST"},
		Subjects: b.subjects(suiteComponents(s)),
		RelevantEvidence: []oscalEvidence{{Href: "results.jsonl",
			Description: fmt.Sprintf("The step, case and suite results of %q, as they were recorded.", s.Name)}},
		Collected: collected,
	}
}

func securityFindings(s *Suite) []result.Finding {
	if s.Kind != "security" || len(s.Data) == 0 {
		return nil
	}
	var sum result.SecuritySummary
	if json.Unmarshal(s.Data, &sum) != nil {
		return nil
	}
	return sum.Findings
}

func (b *oscalBuilder) related(keys ...string) []oscalRelation {
	var out []oscalRelation
	for _, k := range keys {
		if id := b.obs[k]; id != "" && !slices.Contains(out, oscalRelation{id}) {
			out = append(out, oscalRelation{id})
		}
	}
	return out
}

func (b *oscalBuilder) findings() []oscalFinding {
	var out []oscalFinding
	if a := b.m.Acceptance; a != nil {
		for _, st := range a.Requirements {
			if st.Outcome != deploy.Failed && st.Outcome != deploy.NotMet {
				continue
			}
			reason := "fail"
			if st.Outcome == deploy.NotMet {
				reason = "other"
			}
			var keys []string
			for _, s := range st.Suites {
				keys = append(keys, "suite:"+s)
			}
			for _, e := range st.Evidence {
				keys = append(keys, "evidence:"+e)
			}
			out = append(out, oscalFinding{
				UUID: b.id("requirement", st.ID), Title: oneLine("Requirement " + st.ID + " " + st.Outcome), Description: st.Why,
				Props: props("requirement", st.ID, "outcome", st.Outcome, "party", st.Party, "category", st.Category, "component", st.Component, "layer", st.Layer, "source", st.Source),
				Target: oscalTarget{Type: "objective-id", TargetID: token(st.ID), Title: oneLine(st.ID), Description: st.Description,
					Status: oscalState{State: "not-satisfied", Reason: reason}},
				RelatedObservations: b.related(keys...),
			})
		}
	}
	for _, s := range b.m.Suites {
		if s.Ran && (s.Status == result.Failed || s.Status == result.Errored) {
			out = append(out, oscalFinding{
				UUID: b.id("suite-failed", s.Name), Title: oneLine(fmt.Sprintf("%s suite %s %s", s.Kind, s.Name, verb(s.Status))),
				Description: firstLine(s.Message),
				Props:       props("suite", s.Name, "status", string(s.Status), "location", s.Location),
				Target: oscalTarget{Type: "objective-id", TargetID: token("suite-" + s.Name), Title: oneLine(s.Kind + " suite " + s.Name),
					Status: oscalState{State: "not-satisfied", Reason: "fail"}},
				RelatedObservations: b.related("suite:" + s.Name),
			})
		}
		for i, f := range securityFindings(s) {
			if f.Status != "open" {
				continue
			}
			out = append(out, oscalFinding{
				UUID: b.id("security-finding", s.Name, fmt.Sprint(i)), Title: oneLine(f.Title),
				Description: strings.TrimSpace(fmt.Sprintf("%s at %s. %s", f.Title, f.Where, f.Detail)),
				Props:       props("finding-id", f.ID, "severity", f.Severity, "where", f.Where, "suite", s.Name, "reference", f.Reference),
				Target: oscalTarget{Type: "statement-id", TargetID: token(f.ID), Title: oneLine(f.ID),
					Status: oscalState{State: "not-satisfied", Reason: "fail"}},
				RelatedObservations: b.related(fmt.Sprintf("finding:%s:%d", s.Name, i), "suite:"+s.Name),
			})
		}
	}
	return out
}

// props makes cloudtest properties from name, value pairs, leaving out
// empty values (OSCAL property values are non-empty single lines).
func props(kv ...string) []oscalProp {
	var out []oscalProp
	for i := 0; i+1 < len(kv); i += 2 {
		if v := oneLine(kv[i+1]); v != "" {
			out = append(out, oscalProp{Name: kv[i], NS: oscalNS, Value: v})
		}
	}
	return out
}

// oneLine folds whitespace runs into single spaces and trims the ends.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// token turns an identifier such as "core-ledger/security/iaas/evidence:
// hardening_guide" into an OSCAL token (an XML NCName): letters, digits,
// '.', '-' and '_', starting with a letter or '_'.
func token(s string) string {
	t := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
	if first, _ := utf8.DecodeRuneInString(t); t == "" || !(unicode.IsLetter(first) || first == '_') {
		t = "_" + t
	}
	return t
}

func oscalTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
