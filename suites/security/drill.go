package security

import (
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/step"
)

// Drill is an attack-defense exercise: setup steps (which may register
// cloudtest's webhook with the defence), then attacks in order, each
// expecting the defence to block or detect it within a time limit.
type Drill struct {
	Name        string
	Setup       []*step.Step
	Webhook     *WebhookSpec
	Attacks     []*Attack
	MinCoverage float64
	DeclRange   hcl.Range
}

// WebhookSpec asks cloudtest to open a listener on a free loopback port
// that the defence calls; steps see its address as webhook.url.
type WebhookSpec struct {
	Path string
}

// Attack is one attack step: a built-in technique (which makes the inputs)
// and/or steps that carry it.
type Attack struct {
	Name      string
	MITRE     string
	Technique string // credential_stuffing, scanning, injection, or "" (the steps as written)
	Attempts  int
	Paths     []string
	Steps     []*step.Step
	Detect    Detection
	DeclRange hcl.Range
}

// Detection is what counts as the defence reacting to an attack.
type Detection struct {
	Within time.Duration
	// Status: an answer with one of these codes means the attack was blocked.
	Status []int
	// Log: a new line of LogFile (or of LogTarget's log) matching LogPattern.
	LogFile, LogTarget string
	LogPattern         *regexp.Regexp
	// Webhook: a call to cloudtest's listener whose body matches WebhookMatch.
	Webhook      bool
	WebhookMatch *regexp.Regexp
	DeclRange    hcl.Range
}

var techniques = []string{"credential_stuffing", "scanning", "injection"}

var drillSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "min_coverage"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "webhook"}, {Type: "setup"}, {Type: "attack", LabelNames: []string{"name"}},
	},
}

var webhookSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "path"}}}

var setupSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{step.BlockSchema}}

var attackSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "mitre"}, {Name: "technique"}, {Name: "attempts"}, {Name: "paths"}},
	Blocks:     []hcl.BlockHeaderSchema{step.BlockSchema, {Type: "expect_detection"}},
}

var detectionSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "within", Required: true}, {Name: "status"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "log"}, {Type: "webhook"}},
}

var logSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "file"}, {Name: "target"}, {Name: "pattern", Required: true}}}

var hookMatchSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "match"}}}

var mitreID = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)

func decodeDrill(b *hcl.Block, dc *config.DecodeContext) (*Drill, hcl.Diagnostics) {
	content, diags := b.Body.Content(drillSchema)
	dr := &Drill{Name: b.Labels[0], MinCoverage: 1, DeclRange: b.DefRange}
	var d hcl.Diagnostics
	if a, ok := content.Attributes["min_coverage"]; ok {
		dr.MinCoverage, d = dc.Float(a)
		diags = append(diags, d...)
		if !d.HasErrors() && (dr.MinCoverage < 0 || dr.MinCoverage > 1) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail: fmt.Sprintf("min_coverage is a share of the attacks, between 0 and 1; found %g.", dr.MinCoverage), Subject: a.Expr.Range().Ptr()})
		}
	}
	for _, sb := range content.Blocks {
		switch sb.Type {
		case "webhook":
			c, d := sb.Body.Content(webhookSchema)
			diags = append(diags, d...)
			dr.Webhook = &WebhookSpec{Path: "/"}
			if a, ok := c.Attributes["path"]; ok {
				dr.Webhook.Path, d = dc.String(a)
				diags = append(diags, d...)
			}
		case "setup":
			c, d := sb.Body.Content(setupSchema)
			diags = append(diags, d...)
			steps, d := decodeSteps(c.Blocks, dc, "webhook")
			diags = append(diags, d...)
			dr.Setup = append(dr.Setup, steps...)
		case "attack":
			at, d := decodeAttack(sb, dc)
			diags = append(diags, d...)
			dr.Attacks = append(dr.Attacks, at)
		}
	}
	if len(dr.Attacks) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Drill without attacks",
			Detail: fmt.Sprintf("Drill %q needs at least one attack \"name\" { ... } block.", dr.Name), Subject: b.DefRange.Ptr()})
	}
	for _, at := range dr.Attacks {
		if at.Detect.Webhook && dr.Webhook == nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Webhook detection without a listener",
				Detail:  fmt.Sprintf("Attack %q expects a webhook, but drill %q opens none: add webhook { path = \"/alerts\" } to the drill.", at.Name, dr.Name),
				Subject: at.Detect.DeclRange.Ptr()})
		}
	}
	return dr, diags
}

func decodeAttack(b *hcl.Block, dc *config.DecodeContext) (*Attack, hcl.Diagnostics) {
	content, diags := b.Body.Content(attackSchema)
	at := &Attack{Name: b.Labels[0], Attempts: 10, DeclRange: b.DefRange}
	var d hcl.Diagnostics
	if a, ok := content.Attributes["mitre"]; ok {
		at.MITRE, d = dc.String(a)
		diags = append(diags, d...)
		if !d.HasErrors() && !mitreID.MatchString(at.MITRE) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid MITRE ATT&CK id",
				Detail: fmt.Sprintf("mitre must be a technique id such as \"T1110\" or \"T1110.004\"; found %q.", at.MITRE), Subject: a.Expr.Range().Ptr()})
		}
	}
	if a, ok := content.Attributes["technique"]; ok {
		at.Technique, d = dc.OneOf(a, techniques...)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["attempts"]; ok {
		at.Attempts, d = dc.Int(a)
		diags = append(diags, d...)
		if !d.HasErrors() && (at.Attempts <= 0 || at.Attempts > 1000) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail: fmt.Sprintf("attempts must be between 1 and 1000; found %d.", at.Attempts), Subject: a.Expr.Range().Ptr()})
		}
	}
	if a, ok := content.Attributes["paths"]; ok {
		at.Paths, d = dc.Strings(a)
		diags = append(diags, d...)
	}
	at.Steps, d = decodeSteps(content.Blocks, dc, "webhook")
	diags = append(diags, d...)
	detections := 0
	for _, sb := range content.Blocks {
		if sb.Type == "expect_detection" {
			detections++
			diags = append(diags, decodeDetection(&at.Detect, sb, dc)...)
		}
	}
	if detections != 1 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Attack needs one expect_detection block",
			Detail:  fmt.Sprintf("Attack %q must say how the defence shows it noticed: one expect_detection { within = \"5s\", status = [429] } block (or a log or webhook block inside it); it has %d.", at.Name, detections),
			Subject: b.DefRange.Ptr()})
	}
	switch {
	case at.Technique == "" && len(at.Steps) == 0:
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Attack without a request",
			Detail:  fmt.Sprintf("Attack %q needs steps (any step kind) or a built-in technique = %s.", at.Name, quoted(techniques)),
			Subject: b.DefRange.Ptr()})
	case (at.Technique == "credential_stuffing" || at.Technique == "injection") && len(at.Steps) != 1:
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Technique needs one step",
			Detail:  fmt.Sprintf("Attack %q: the technique %q sends its inputs through one step you write, which uses each.value (%s); it has %d steps.", at.Name, at.Technique, map[bool]string{true: "each.value.user and each.value.password", false: "the payload"}[at.Technique == "credential_stuffing"], len(at.Steps)),
			Subject: b.DefRange.Ptr()})
	}
	return at, diags
}

func decodeDetection(det *Detection, b *hcl.Block, dc *config.DecodeContext) hcl.Diagnostics {
	content, diags := b.Body.Content(detectionSchema)
	det.DeclRange = b.DefRange
	var d hcl.Diagnostics
	if a, ok := content.Attributes["within"]; ok {
		det.Within, d = dc.Duration(a)
		diags = append(diags, d...)
		if !d.HasErrors() && (det.Within <= 0 || det.Within > 10*time.Minute) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail: "expect_detection.within must be above zero and at most 10m.", Subject: a.Expr.Range().Ptr()})
		}
	}
	if a, ok := content.Attributes["status"]; ok {
		det.Status, d = ints(dc, a)
		diags = append(diags, d...)
	}
	for _, sb := range content.Blocks {
		switch sb.Type {
		case "log":
			diags = append(diags, decodeLogDetection(det, sb, dc)...)
		case "webhook":
			diags = append(diags, decodeHookDetection(det, sb, dc)...)
		}
	}
	if len(det.Status) == 0 && det.LogPattern == nil && !det.Webhook && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Detection without a signal",
			Detail:  "expect_detection needs status = [429, 403], a log { pattern = \"...\" } block or a webhook { } block.",
			Subject: b.DefRange.Ptr()})
	}
	return diags
}

// decodeLogDetection reads log { file or target, pattern }.
func decodeLogDetection(det *Detection, sb *hcl.Block, dc *config.DecodeContext) hcl.Diagnostics {
	c, diags := sb.Body.Content(logSchema)
	var d hcl.Diagnostics
	if a, ok := c.Attributes["file"]; ok {
		det.LogFile, d = dc.String(a)
		diags = append(diags, d...)
	}
	if a, ok := c.Attributes["target"]; ok {
		det.LogTarget, d = dc.TargetRef(a)
		diags = append(diags, d...)
	}
	if (det.LogFile == "") == (det.LogTarget == "") {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Log without one source",
			Detail:  "A log detection reads either file = \"/var/log/waf.log\" or target = target.NAME (the log cloudtest keeps of a target it started), not both or neither.",
			Subject: sb.DefRange.Ptr()})
	}
	if a, ok := c.Attributes["pattern"]; ok {
		p, d := dc.String(a)
		diags = append(diags, d...)
		re, err := regexp.Compile(p)
		if err != nil && !d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid regular expression",
				Detail: fmt.Sprintf("log.pattern: %v", err), Subject: a.Expr.Range().Ptr()})
		}
		det.LogPattern = re
	}
	return diags
}

// decodeHookDetection reads webhook { match }: any call matches without one.
func decodeHookDetection(det *Detection, sb *hcl.Block, dc *config.DecodeContext) hcl.Diagnostics {
	c, diags := sb.Body.Content(hookMatchSchema)
	det.Webhook = true
	det.WebhookMatch = regexp.MustCompile(``)
	if a, ok := c.Attributes["match"]; ok {
		p, d := dc.String(a)
		diags = append(diags, d...)
		re, err := regexp.Compile(p)
		if err != nil && !d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid regular expression",
				Detail: fmt.Sprintf("webhook.match: %v", err), Subject: a.Expr.Range().Ptr()})
		} else if re != nil {
			det.WebhookMatch = re
		}
	}
	return diags
}

func quoted(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%q", x)
	}
	return out
}
