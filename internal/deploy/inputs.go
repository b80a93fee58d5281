package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/cloudtest/cloudtest/internal/config"
)

// InputsFile is written in the run directory: everything the acceptance
// verdict needs besides the results, so that the report can be rendered
// again from the directory alone.
const InputsFile = "acceptance.json"

// Inputs are the deployment, its requirements and waivers, and the
// verified evidence of a run.
type Inputs struct {
	Mode         string            `json:"mode"`
	Components   []ComponentInfo   `json:"components"`
	Approvers    []config.Approver `json:"approvers,omitempty"`
	Requirements []Requirement     `json:"requirements"`
	Waivers      []Waiver          `json:"waivers,omitempty"`
	Evidence     []EvidenceItem    `json:"evidence,omitempty"`
}

// ComponentInfo describes a component for the report.
type ComponentInfo struct {
	Name   string   `json:"name"`
	Mode   string   `json:"mode"`
	Layers []string `json:"layers"`
	Tier   string   `json:"tier"`
	Vendor string   `json:"vendor,omitempty"`
}

// NewInputs gathers the inputs of cfg with its verified evidence.
func NewInputs(cfg *config.Config, reqs []Requirement, waivers []Waiver, evidence []EvidenceItem) Inputs {
	in := Inputs{Requirements: reqs, Waivers: waivers, Evidence: evidence}
	if d := cfg.Deployment; d != nil {
		in.Mode, in.Approvers = d.Mode, d.Approvers
		for _, c := range d.Components {
			in.Components = append(in.Components, ComponentInfo{c.Name, c.Mode, c.Layers, c.Tier, c.Vendor})
		}
	}
	return in
}

// Write saves the inputs in the run directory.
func (in Inputs) Write(dir string) error {
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, InputsFile), append(b, '\n'), 0o644)
}

// ReadInputs reads the inputs of a run directory; ok is false when the run
// had no deployment block.
func ReadInputs(dir string) (in Inputs, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, InputsFile))
	if os.IsNotExist(err) {
		return in, false, nil
	}
	if err != nil {
		return in, false, err
	}
	return in, true, json.Unmarshal(b, &in)
}

// Deployment rebuilds the deployment's shape (modes and layers) from the
// inputs, for Evaluate.
func (in Inputs) Deployment() *config.Deployment {
	d := &config.Deployment{Mode: in.Mode, Approvers: in.Approvers}
	for _, c := range in.Components {
		d.Components = append(d.Components, &config.Component{Name: c.Name, Mode: c.Mode, Layers: c.Layers, Tier: c.Tier, Vendor: c.Vendor})
	}
	return d
}
