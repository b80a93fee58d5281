// Package fault turns fault blocks into Chaos Mesh objects (the vocabulary
// of faults), validates them with Chaos Mesh's own webhooks' code, and
// injects and removes them through engines: local (toxiproxy in-process,
// signals to supervised processes, stress), docker (containers started as
// targets) and kubernetes (Chaos Mesh objects in the target's cluster).
// Every injection and removal is written to a journal so that
// `cloudtest recover` can undo what a crashed run left behind.
//
// Each action is one value of the table in actions.go, which also says
// which engines carry it out and how: adding an action touches that file
// only. Each engine is one file that declares how it applies and removes
// faults (engine.go lists the engines). The package is internal: its callers are the reliability suite
// and cloudtest's plan and recover commands.
package fault

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// BlockSchema is the header of a fault block inside a reliability suite.
var BlockSchema = hcl.BlockHeaderSchema{Type: "fault", LabelNames: []string{"name"}}

// Spec is one decoded fault block.
type Spec struct {
	Name string
	// Action is the Chaos Mesh action as written, one of Actions (the
	// table of actions.go).
	Action string
	// Kind is the Chaos Mesh kind of its object (PodChaos, NetworkChaos…),
	// the action's.
	Kind string
	// Engine is "local", "docker" or "kubernetes" (engine.go).
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
	// Op names the removal: local "sigcont", "remove-toxic",
	// "end-partition", "stop-stress"; docker "unpause", "start",
	// "connect"; kubernetes "delete".
	Op   string            `json:"op"`
	Args map[string]string `json:"args,omitempty"`
}
