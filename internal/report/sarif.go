package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudtest/cloudtest/internal/deploy"
	"github.com/cloudtest/cloudtest/internal/result"
)

// SARIFFile holds the security findings and the failed security
// requirements as SARIF 2.1.0, for code scanning and vulnerability trackers.
const SARIFFile = "findings.sarif"

// srcRoot is the base of every artifact location: the directory cloudtest
// ran in, which is the repository root when CI runs it there, so that a
// finding opens at its HCL file and line.
const srcRoot = "%SRCROOT%"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool              `json:"tool"`
	AutomationDetails  *sarifAutomation       `json:"automationDetails,omitempty"`
	OriginalURIBaseIDs map[string]sarifBaseID `json:"originalUriBaseIds,omitempty"`
	Invocations        []sarifInvocation      `json:"invocations,omitempty"`
	Results            []sarifResult          `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name    string      `json:"name"`
	Version string      `json:"version,omitempty"`
	Rules   []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      *sarifText     `json:"fullDescription,omitempty"`
	Help                 *sarifText     `json:"help,omitempty"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifAutomation struct {
	ID string `json:"id"`
}

type sarifBaseID struct {
	Description sarifText `json:"description"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool   `json:"executionSuccessful"`
	StartTimeUTC        string `json:"startTimeUtc,omitempty"`
	EndTimeUTC          string `json:"endTimeUtc,omitempty"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations,omitempty"`
	PartialFingerprints map[string]string  `json:"partialFingerprints,omitempty"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          map[string]any     `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Status        string `json:"status,omitempty"`
	Justification string `json:"justification,omitempty"`
}

// sarifLevel maps a finding's severity to a SARIF level.
func sarifLevel(severity string) string {
	switch severity {
	case "critical", "high":
		return "error"
	case "medium":
		return "warning"
	}
	return "note"
}

// securitySeverity is the score GitHub code scanning reads to rank
// security alerts (critical ≥ 9.0, high ≥ 7.0, medium ≥ 4.0, low > 0).
var securitySeverity = map[string]string{"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}

// WriteSARIF writes the security findings of every security suite (waived
// and expected ones as suppressed results) and the security requirements
// of the matrix that failed or are not met. Like the other renderers it
// reads only the model; a finding's evidence (the exchange) is left out.
func (m *Model) WriteSARIF(w io.Writer) error {
	run := sarifRun{
		Tool:              sarifTool{Driver: sarifDriver{Name: "cloudtest", Version: m.Run.Version, Rules: []sarifRule{}}},
		AutomationDetails: &sarifAutomation{ID: "cloudtest/" + m.Run.ID},
		OriginalURIBaseIDs: map[string]sarifBaseID{srcRoot: {Description: sarifText{
			Text: "The directory cloudtest ran in (the repository root when CI runs cloudtest there); HCL locations are relative to it."}}},
		Results: []sarifResult{},
	}
	if !m.Run.Started.IsZero() {
		inv := sarifInvocation{ExecutionSuccessful: !m.Run.Interrupted && m.Run.Error == "", StartTimeUTC: oscalTime(m.Run.Started)}
		if !m.Run.Finished.IsZero() {
			inv.EndTimeUTC = oscalTime(m.Run.Finished)
		}
		run.Invocations = []sarifInvocation{inv}
	}
	rules := map[string]int{}
	rule := func(r sarifRule) int {
		if i, ok := rules[r.ID]; ok {
			return i
		}
		rules[r.ID] = len(run.Tool.Driver.Rules)
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, r)
		return rules[r.ID]
	}
	for _, s := range m.Suites {
		for _, f := range securityFindings(s) {
			r, res := sarifFinding(s, f)
			res.RuleIndex = rule(r)
			run.Results = append(run.Results, res)
		}
	}
	if a := m.Acceptance; a != nil {
		for _, st := range a.Requirements {
			if st.Category != "security" || (st.Outcome != deploy.Failed && st.Outcome != deploy.NotMet) {
				continue
			}
			level := "error"
			if st.Outcome == deploy.NotMet {
				level = "warning"
			}
			r := sarifRule{ID: st.ID, ShortDescription: sarifText{Text: nonEmpty(oneLine(st.Description), st.ID)},
				DefaultConfiguration: sarifConfig{Level: level},
				Properties:           map[string]any{"tags": []string{"security", "requirement", st.Kind}}}
			run.Results = append(run.Results, sarifResult{
				RuleID: st.ID, RuleIndex: rule(r), Level: level,
				Message:    sarifText{Text: nonEmpty(oneLine(fmt.Sprintf("Requirement %s is %s: %s", st.ID, st.Outcome, st.Why)), st.ID)},
				Locations:  sarifLocations(m.requirementLocation(st)),
				Properties: map[string]any{"requirement": st.ID, "outcome": st.Outcome, "party": st.Party, "component": st.Component},
			})
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// sarifFinding is a security finding of suite s as a SARIF rule and result
// (whose RuleIndex the caller sets).
func sarifFinding(s *Suite, f result.Finding) (sarifRule, sarifResult) {
	r := sarifRule{ID: f.ID, ShortDescription: sarifText{Text: nonEmpty(oneLine(f.Title), f.ID)},
		DefaultConfiguration: sarifConfig{Level: sarifLevel(f.Severity)},
		Properties:           map[string]any{"tags": []string{"security", f.Check}, "precision": "high"}}
	if sev, ok := securitySeverity[f.Severity]; ok {
		r.Properties["security-severity"] = sev
	}
	if f.Reference != "" {
		r.Help = &sarifText{Text: "Reference: " + f.Reference}
	}
	res := sarifResult{
		RuleID: f.ID, Level: sarifLevel(f.Severity),
		Message:   sarifText{Text: strings.TrimSpace(fmt.Sprintf("%s at %s (%s severity). %s", nonEmpty(oneLine(f.Title), f.ID), f.Where, f.Severity, oneLine(f.Detail)))},
		Locations: sarifLocations(checkLocation(s, f.Check)),
		PartialFingerprints: map[string]string{
			"cloudtestFinding/v1": fingerprint(s.Name, f.ID, f.Where),
		},
		Properties: map[string]any{"suite": s.Name, "severity": f.Severity, "where": f.Where, "status": f.Status},
	}
	if c := suiteComponents(s); len(c) > 0 {
		res.Properties["components"] = c
	}
	switch f.Status {
	case "waived":
		res.Suppressions = []sarifSuppression{{Kind: "external", Status: "accepted", Justification: nonEmpty(f.Waiver, "waived")}}
	case "expected":
		res.Suppressions = []sarifSuppression{{Kind: "inSource", Status: "accepted",
			Justification: "Planted on purpose: the suite expects this finding (a negative control)."}}
	}
	return r, res
}

// checkLocation is the file:line of the check block that found something:
// the security suite records each check as a step of its case "checks".
func checkLocation(s *Suite, check string) string {
	for _, c := range s.Cases {
		for _, st := range c.Steps {
			if st.Step == check && st.Location != "" {
				return st.Location
			}
		}
	}
	return s.Location
}

// requirementLocation is where a requirement comes from: its requirement
// block, else the suites or evidence that decided it, else the first
// security suite of its component.
func (m *Model) requirementLocation(st deploy.Status) string {
	if _, _, ok := splitLocation(st.Source); ok {
		return st.Source
	}
	for _, name := range st.Suites {
		for _, s := range m.Suites {
			if s.Name == name && s.Location != "" {
				return s.Location
			}
		}
	}
	if m.Acceptance != nil {
		for _, name := range st.Evidence {
			for _, e := range m.Acceptance.Evidence {
				if e.Name == name && e.Location != "" {
					return e.Location
				}
			}
		}
	}
	for _, s := range m.Suites {
		if s.Kind == "security" && s.Location != "" && (st.Component == "" || slices.Contains(suiteComponents(s), st.Component)) {
			return s.Location
		}
	}
	return ""
}

// splitLocation splits "file:line".
func splitLocation(loc string) (string, int, bool) {
	i := strings.LastIndexByte(loc, ':')
	if i <= 0 {
		return "", 0, false
	}
	line, err := strconv.Atoi(loc[i+1:])
	if err != nil || line < 1 {
		return "", 0, false
	}
	return loc[:i], line, true
}

// sarifLocations turns "file:line" into a SARIF location: a relative path
// under %SRCROOT%, or an absolute file: URI.
func sarifLocations(loc string) []sarifLocation {
	file, line, ok := splitLocation(loc)
	if !ok {
		return nil
	}
	art := sarifArtifact{URI: (&url.URL{Path: filepath.ToSlash(filepath.Clean(file))}).EscapedPath(), URIBaseID: srcRoot}
	if filepath.IsAbs(file) {
		art = sarifArtifact{URI: (&url.URL{Scheme: "file", Path: filepath.ToSlash(file)}).String()}
	}
	return []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: art, Region: &sarifRegion{StartLine: line}}}}
}

func fingerprint(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

func nonEmpty(s, fallback string) string {
	if strings.TrimSpace(s) == "" {
		return fallback
	}
	return s
}
