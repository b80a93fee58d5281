// Package reliability runs reliability suites: a steady state checked
// before the faults and after recovery, a probe that runs through the whole
// experiment, a ledger of sequence-numbered writes read back at the end,
// and faults in Chaos Mesh's vocabulary injected and removed through
// internal/fault. It measures RTO, RPO and availability and compares them
// with the objectives, which default to the component's disaster-recovery
// tier.
package reliability

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/fault"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/step"
)

// Kind is the reliability block kind, for the loader's list of kinds.
var Kind = runner.NewKind("reliability", decode, Schema)

// Suite is a decoded reliability block.
type Suite struct {
	config.SuiteCommon
	// Window is how long the experiment runs: probes and writes from its
	// start to its end, faults at their "after" within it.
	Window      time.Duration
	Setup       []*step.Step
	SteadyState []*step.Step
	Probe       *Probe
	Ledger      *Ledger
	Faults      []*fault.Spec
	AbortWhen   *AbortWhen
	Objectives  Objectives
}

// A Suite can run: the compiler checks what the plan needs.
var _ runner.Suite = (*Suite)(nil)

// FaultSpecs lists the suite's faults (fault.Carrier, for plan --emit-chaos).
func (s *Suite) FaultSpecs() []*fault.Spec { return s.Faults }

// Probe is the step run every Every through the experiment.
type Probe struct {
	Step           *step.Step
	Every, Timeout time.Duration
	// RecoveredAfter successes in a row end an outage.
	RecoveredAfter int
}

// Ledger writes a record every Every through the experiment and reads
// every acknowledged one back at the end.
type Ledger struct {
	Write, Read    *step.Step
	Every, Timeout time.Duration
}

// AbortWhen ends the faults early when the probes' error ratio over the
// last Window exceeds ErrorRatio.
type AbortWhen struct {
	ErrorRatio float64
	Window     time.Duration
	DeclRange  hcl.Range
}

// Objectives are the limits the experiment is judged by; a nil field means
// the tier's default (or none).
type Objectives struct {
	RTO, RPO     *time.Duration
	Availability *float64
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "duration"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "setup"}, {Type: "steady_state"}, {Type: "probe"}, {Type: "ledger"},
		fault.BlockSchema, {Type: "abort_when"}, {Type: "objectives"},
	},
}

var stepsSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{step.BlockSchema}}

var probeSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "every"}, {Name: "timeout"}, {Name: "recovered_after"},
}}

var ledgerSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "every"}, {Name: "timeout"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "write"}, {Type: "read"}},
}

var abortSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "error_ratio", Required: true}, {Name: "window"},
}}

var objectivesSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "rto"}, {Name: "rpo"}, {Name: "availability"},
}}

// ledgerRoot is the run-time value the ledger's steps see: ledger.seq, and
// in the read step also what the write step captured (ledger.id).
const ledgerRoot = "ledger"

func decode(common *config.SuiteCommon, body hcl.Body, dc *config.DecodeContext) (runner.Suite, hcl.Diagnostics) {
	s := &Suite{SuiteCommon: *common}
	content, diags := body.Content(schema)
	var d hcl.Diagnostics
	windowSet := false
	if a, ok := content.Attributes["duration"]; ok {
		s.Window, d = dc.Duration(a)
		diags = append(diags, d...)
		windowSet = !d.HasErrors()
		if windowSet && s.Window <= 0 {
			diags = append(diags, invalid(a, "duration must be longer than zero, such as \"20s\"."))
		}
	}
	diags = append(diags, s.decodeBlocks(content.Blocks, dc)...)
	diags = append(diags, s.checkRequired(content, windowSet)...)
	diags = append(diags, s.checkSchedule(content, windowSet)...)
	if s.Timeout > 0 && s.Timeout <= s.Window {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Timeout shorter than the experiment",
			Detail:  fmt.Sprintf("Reliability suite %q runs its experiment for %s, but its timeout is %s: the timeout would always cut it short. Make the timeout longer than the duration, with room for setup and the read-back.", s.Name, s.Window, s.Timeout),
			Subject: s.DeclRange.Ptr()})
	}
	return s, diags
}

// decodeBlocks decodes the suite's blocks: one of each kind but faults.
func (s *Suite) decodeBlocks(blocks hcl.Blocks, dc *config.DecodeContext) hcl.Diagnostics {
	var diags, d hcl.Diagnostics
	once := map[string]*hcl.Block{}
	for _, b := range blocks {
		if b.Type != "fault" {
			if prev, dup := once[b.Type]; dup {
				diags = append(diags, config.DuplicateBlock(fmt.Sprintf("Reliability suite %q", s.Name), b, prev))
				continue
			}
			once[b.Type] = b
		}
		switch b.Type {
		case "setup":
			s.Setup, d = decodeSteps(b, dc)
		case "steady_state":
			s.SteadyState, d = decodeSteps(b, dc)
		case "probe":
			s.Probe, d = decodeProbe(b, dc)
		case "ledger":
			s.Ledger, d = decodeLedger(b, dc)
		case "fault":
			var f *fault.Spec
			f, d = fault.DecodeFor(b, dc, s.Target)
			if f != nil {
				s.Faults = append(s.Faults, f)
			}
		case "abort_when":
			s.AbortWhen, d = decodeAbort(b, dc)
		case "objectives":
			d = decodeObjectives(&s.Objectives, b, dc)
		}
		diags = append(diags, d...)
	}
	return diags
}

// checkRequired refuses a suite without a target, a probe, or (when it has
// no fault) a duration.
func (s *Suite) checkRequired(content *hcl.BodyContent, windowSet bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if s.Target == "" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required attribute",
			Detail:  fmt.Sprintf("Reliability suite %q needs target = target.NAME: the system the faults act on and the probes reach.", s.Name),
			Subject: s.DeclRange.Ptr()})
	}
	if s.Probe == nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing probe block",
			Detail:  fmt.Sprintf("Reliability suite %q needs a probe block (a request run every 100 ms through the experiment, such as http { path = \"/healthz\" }): RTO and availability are measured from it.", s.Name),
			Subject: s.DeclRange.Ptr()})
	}
	// Without a fault block the suite measures an outage caused from
	// outside (a DR switch, a failover done by the platform) from the
	// first failed probe; only its window cannot be guessed.
	if len(s.Faults) == 0 && !windowSet && content.Attributes["duration"] == nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing duration",
			Detail:  fmt.Sprintf("Reliability suite %q has no fault block, so it measures an outage caused from outside cloudtest (a DR switch, a failover) while it probes; give it duration = \"10m\": how long to probe, long enough for the switch and the recovery. Or add a fault block, such as fault \"kill\" { action = \"pod-kill\" }.", s.Name),
			Subject: s.DeclRange.Ptr()})
	}
	return diags
}

// checkSchedule checks the faults' names and times against the window,
// which it sets when the suite gives none, and against the timeout.
func (s *Suite) checkSchedule(content *hcl.BodyContent, windowSet bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[string]*fault.Spec{}
	var last time.Duration
	for _, f := range s.Faults {
		if prev, dup := seen[f.Name]; dup {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate fault",
				Detail:  fmt.Sprintf("A fault named %q is already defined at %s.", f.Name, config.Location(prev.DeclRange)),
				Subject: f.DeclRange.Ptr()})
		}
		seen[f.Name] = f
		// Each of after and duration is in range alone; their sum (and
		// the recovery room after it) must be too, or the schedule wraps
		// around and the fault is never injected.
		end, ok := addDurations(f.After, f.Duration)
		if ok && !windowSet {
			_, ok = addDurations(end, defaultRecoveryRoom)
		}
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Fault ends too late",
				Detail: fmt.Sprintf("Fault %q starts %s after the start and lasts %s: it would end later than cloudtest can count (about 292 years, with %s of recovery after it). Make after and duration shorter.",
					f.Name, f.After, f.Duration, defaultRecoveryRoom),
				Subject: f.DeclRange.Ptr()})
			continue
		}
		last = max(last, end)
		// Only a one-shot fault (a kill) ends by itself; any other lasts
		// until it is removed, so the schedule needs to know when.
		if !f.OneShot() && f.Duration <= 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing duration",
				Detail:  fmt.Sprintf("Fault %q (%s) lasts until it is removed; give it duration = \"30s\" (longer than zero): how long it stays before cloudtest removes it. Only %s need none.", f.Name, f.Action, oneShots),
				Subject: f.DeclRange.Ptr()})
		}
	}
	if !windowSet {
		// Room after the last fault for the target to recover and for the
		// probes to see it.
		s.Window = last + defaultRecoveryRoom
	} else if last >= s.Window {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Faults outlast the experiment",
			Detail: fmt.Sprintf("The last fault ends %s after the start, but the experiment's duration is %s; make duration longer so that recovery can be seen.",
				last, s.Window),
			Subject: content.Attributes["duration"].Expr.Range().Ptr()})
	}
	return diags
}

// addDurations adds two durations that are not negative, reporting false
// when the sum does not fit in a time.Duration.
func addDurations(a, b time.Duration) (time.Duration, bool) {
	if a < 0 || b < 0 || a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

// defaultRecoveryRoom is how long an experiment without a duration goes on
// after its last fault ends.
const defaultRecoveryRoom = 10 * time.Second

// oneShots names the fault actions that need no duration ("pod-kill and
// container-kill"), from the fault package's table.
var oneShots = func() string {
	a := fault.OneShotActions()
	if len(a) < 2 {
		return strings.Join(a, "")
	}
	return strings.Join(a[:len(a)-1], ", ") + " and " + a[len(a)-1]
}()

func invalid(a *hcl.Attribute, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value for " + a.Name, Detail: detail, Subject: a.Expr.Range().Ptr()}
}

func decodeSteps(b *hcl.Block, dc *config.DecodeContext) ([]*step.Step, hcl.Diagnostics) {
	content, diags := b.Body.Content(stepsSchema)
	var out []*step.Step
	names := map[string]bool{}
	for _, sb := range content.Blocks {
		st, d := step.Decode(sb, dc)
		diags = append(diags, d...)
		if st == nil {
			continue
		}
		if names[st.Name] {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate step",
				Detail: fmt.Sprintf("The %s block has two steps named %q.", b.Type, st.Name), Subject: sb.DefRange.Ptr()})
		}
		names[st.Name] = true
		out = append(out, st)
	}
	if len(out) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty " + b.Type + " block",
			Detail: fmt.Sprintf("The %s block needs at least one step block.", b.Type), Subject: b.DefRange.Ptr()})
	}
	return out, diags
}

// stepOf decodes the rest of a block whose body is a step (a request, its
// expectations and captures), named by the block's type.
func stepOf(b *hcl.Block, rest hcl.Body, dc *config.DecodeContext, roots ...string) (*step.Step, hcl.Diagnostics) {
	return step.DecodeWith(&hcl.Block{Type: "step", Labels: []string{b.Type}, Body: rest,
		DefRange: b.DefRange, TypeRange: b.TypeRange}, dc, roots...)
}

func positive(a *hcl.Attribute, dc *config.DecodeContext, dst *time.Duration) hcl.Diagnostics {
	v, d := dc.Duration(a)
	if d.HasErrors() {
		return d
	}
	if v <= 0 {
		return append(d, invalid(a, a.Name+" must be longer than zero, such as \"100ms\"."))
	}
	*dst = v
	return d
}

func decodeProbe(b *hcl.Block, dc *config.DecodeContext) (*Probe, hcl.Diagnostics) {
	p := &Probe{Every: 100 * time.Millisecond, Timeout: time.Second, RecoveredAfter: 3}
	content, rest, diags := b.Body.PartialContent(probeSchema)
	if a, ok := content.Attributes["every"]; ok {
		diags = append(diags, positive(a, dc, &p.Every)...)
	}
	if a, ok := content.Attributes["timeout"]; ok {
		diags = append(diags, positive(a, dc, &p.Timeout)...)
	}
	if a, ok := content.Attributes["recovered_after"]; ok {
		n, d := dc.Int(a)
		diags = append(diags, d...)
		if !d.HasErrors() && n < 1 {
			diags = append(diags, invalid(a, "recovered_after must be at least 1: the number of successful probes in a row that end an outage."))
		} else if !d.HasErrors() {
			p.RecoveredAfter = n
		}
	}
	st, d := stepOf(b, rest, dc)
	diags = append(diags, d...)
	p.Step = st
	return p, diags
}

func decodeLedger(b *hcl.Block, dc *config.DecodeContext) (*Ledger, hcl.Diagnostics) {
	l := &Ledger{Every: 100 * time.Millisecond, Timeout: 2 * time.Second}
	content, diags := b.Body.Content(ledgerSchema)
	if a, ok := content.Attributes["every"]; ok {
		diags = append(diags, positive(a, dc, &l.Every)...)
	}
	if a, ok := content.Attributes["timeout"]; ok {
		diags = append(diags, positive(a, dc, &l.Timeout)...)
	}
	for _, blk := range content.Blocks {
		dst := &l.Read
		if blk.Type == "write" {
			dst = &l.Write
		}
		if *dst != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate " + blk.Type + " block",
				Detail:  fmt.Sprintf("A ledger has one %s block; this one comes after the first at %s.", blk.Type, config.Location((*dst).DeclRange)),
				Subject: blk.DefRange.Ptr()})
			continue
		}
		st, d := stepOf(blk, blk.Body, dc, ledgerRoot)
		diags = append(diags, d...)
		*dst = st
	}
	for _, name := range []string{"write", "read"} {
		st := l.Write
		if name == "read" {
			st = l.Read
		}
		if st == nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing " + name + " block",
				Detail:  "A ledger needs a write block (a request that stores record ledger.seq) and a read block (a request that reads it back and fails when it is missing).",
				Subject: b.DefRange.Ptr()})
		}
	}
	return l, diags
}

func decodeAbort(b *hcl.Block, dc *config.DecodeContext) (*AbortWhen, hcl.Diagnostics) {
	a := &AbortWhen{Window: 5 * time.Second, DeclRange: b.DefRange}
	content, diags := b.Body.Content(abortSchema)
	if attr, ok := content.Attributes["error_ratio"]; ok {
		v, d := dc.Float(attr)
		diags = append(diags, d...)
		if !d.HasErrors() && (v <= 0 || v > 1) {
			diags = append(diags, invalid(attr, fmt.Sprintf("error_ratio is the share of failed probes that ends the faults early, between 0 and 1 (0.5 for half); found %g.", v)))
		}
		a.ErrorRatio = v
	}
	if attr, ok := content.Attributes["window"]; ok {
		diags = append(diags, positive(attr, dc, &a.Window)...)
	}
	return a, diags
}

func decodeObjectives(o *Objectives, b *hcl.Block, dc *config.DecodeContext) hcl.Diagnostics {
	content, diags := b.Body.Content(objectivesSchema)
	for _, name := range []string{"rto", "rpo"} {
		a, ok := content.Attributes[name]
		if !ok {
			continue
		}
		v, d := dc.Duration(a)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if name == "rto" {
			o.RTO = &v
		} else {
			o.RPO = &v
		}
	}
	if a, ok := content.Attributes["availability"]; ok {
		v, d := dc.Float(a)
		diags = append(diags, d...)
		if !d.HasErrors() && (v <= 0 || v > 1) {
			diags = append(diags, invalid(a, fmt.Sprintf("availability is a ratio between 0 and 1 (0.999 for 99.9 %%); found %g.", v)))
		} else if !d.HasErrors() {
			o.Availability = &v
		}
	}
	return diags
}
