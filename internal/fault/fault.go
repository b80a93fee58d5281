// Package fault turns fault blocks into Chaos Mesh objects (the vocabulary
// of faults), validates them with Chaos Mesh's own webhooks' code, and
// injects and removes them through engines: local (toxiproxy in-process,
// signals to supervised processes, stress) and docker (containers started
// as targets). Every injection and removal is written to a journal so that
// `cloudtest recover` can undo what a crashed run left behind.
package fault

import (
	"context"
	"time"

	"github.com/hashicorp/hcl/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudtest/cloudtest/internal/target"
)

// BlockSchema is the header of a fault block inside a reliability suite.
var BlockSchema = hcl.BlockHeaderSchema{Type: "fault", LabelNames: []string{"name"}}

// Spec is one decoded fault block.
type Spec struct {
	Name string
	// Action is the Chaos Mesh action as written: pod-kill, pod-failure,
	// container-kill, delay, loss, partition, bandwidth, corrupt, cpu,
	// memory, abort, http-delay…
	Action string
	// Kind is the Chaos Mesh kind: PodChaos, NetworkChaos, StressChaos,
	// HTTPChaos or PhysicalMachineChaos.
	Kind string
	// Engine is "local" or "docker".
	Engine string
	// Target names the target the fault acts on (the suite's target when
	// the block names none).
	Target string
	// Upstream is host:port of a dependency (a database) that a local
	// network fault puts a proxy in front of, instead of the target.
	Upstream string
	// Listen is the loopback host:port of the proxy in front of Upstream
	// (the address the target is configured to reach its dependency at).
	Listen string
	// After is when the fault starts, from the start of the experiment;
	// Duration how long it lasts (0 for one-shot faults such as pod-kill).
	After, Duration time.Duration
	// Object is the Chaos Mesh object, defaulted and validated.
	Object client.Object
	// DeclRange is the fault block's header, for diagnostics and results.
	DeclRange hcl.Range
}

// Undo is what removes one injected fault, in a form the journal keeps so
// that `cloudtest recover` can replay it after a crash.
type Undo struct {
	Engine string `json:"engine"`
	// Op names the removal: docker "unpause", "start", "connect",
	// "remove"; local "sigcont", "kill", "remove-toxic"…
	Op   string            `json:"op"`
	Args map[string]string `json:"args,omitempty"`
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
