package fault

import (
	"context"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/target"
)

// An engineKind is one engine as the decoder, the lab and recover see it:
// its name in a fault block's engine attribute, the actions it carries
// out, what it checks when a fault block is decoded, and how it is opened.
// Each engine's file declares its engineKind, how it applies and removes
// faults, and the type of the field by which an action (actions.go) says
// how that engine carries it out; engines lists them.
type engineKind struct {
	name string
	// carries says whether the engine carries out the action (whether the
	// action's value has the engine's field).
	carries func(a *action) bool
	// note ends the refusal of an action the engine does not carry out.
	note string
	// checkTarget refuses a fault whose target the engine cannot act on.
	checkTarget func(s *Spec, t *config.Target, b *hcl.Block) hcl.Diagnostics
	// checkAttrs refuses, or warns about, the settings of a fault that the
	// engine cannot apply; nil when it applies them all.
	checkAttrs func(s *Spec, attrs hcl.Attributes) hcl.Diagnostics
	// open makes the engine for the faults of one suite of one run.
	open func(run, suite string) engine
}

// engines are the engines a fault block may name, the default first.
var engines = []*engineKind{&localKind, &dockerKind, &kubeKind}

// engineNamed is the engine of that name ("" is the default, local), nil
// when there is none.
func engineNamed(name string) *engineKind {
	if name == "" {
		return engines[0]
	}
	for _, k := range engines {
		if k.name == name {
			return k
		}
	}
	return nil
}

func engineNames() []string {
	names := make([]string, len(engines))
	for i, k := range engines {
		names[i] = k.name
	}
	return names
}

// actionNames lists the actions the engine carries out, in table order.
func (k *engineKind) actionNames() []string {
	return actionNames(k.carries)
}

// engine injects the faults of one engine value.
type engine interface {
	// inject applies s to t and returns what removes it (nothing for a
	// one-shot fault whose effect ends by itself).
	inject(ctx context.Context, s *Spec, t *target.Instance) ([]Undo, error)
	// undo carries out one removal; it must succeed when the effect is
	// already gone (idempotent), because recover may replay it.
	undo(ctx context.Context, u Undo) error
}

// planner is an engine that knows what removes a fault before applying it.
// The lab journals that plan first, so that a crash between the fault and
// its journal record still leaves recover something to undo (removals are
// idempotent: undoing a fault that never took hold does no harm).
type planner interface {
	plan(s *Spec, t *target.Instance) []Undo
}

// preparer is an engine that sets a fault up before the experiment starts
// (the local engine's proxies, so that the steady state is measured
// through the same path as the fault).
type preparer interface {
	prepare(s *Spec, t *target.Instance) error
}

// router is an engine through which a target is reached during the
// experiment; url is "" for a target it does not stand in front of.
type router interface {
	url(targetName string) string
}

// closer is an engine that holds something in this process (proxies,
// stress) until the experiment ends.
type closer interface {
	close()
}

// injectionClock is an engine that knows when a fault took hold better
// than the moment it was asked to inject it.
type injectionClock interface {
	injectedAtOf(s *Spec) (time.Time, bool)
}

// andList joins names as "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
