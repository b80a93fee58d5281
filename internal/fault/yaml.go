package fault

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// YAML renders the fault's Chaos Mesh object as a manifest that
// `kubectl apply -f` accepts: no status, no server-set metadata.
func (s *Spec) YAML() ([]byte, error) { return s.yaml("") }

// yaml renders the manifest, named name when it is not empty.
func (s *Spec) yaml(name string) ([]byte, error) {
	if s.Object == nil {
		return nil, fmt.Errorf("fault %q has no Chaos Mesh object", s.Name)
	}
	j, err := json.Marshal(s.Object)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
		if name != "" {
			md["name"] = name
		}
	}
	return yaml.Marshal(m)
}

// WriteChaos writes one Chaos Mesh manifest per fault of a suite into dir,
// named <suite>-<fault>.yaml, and returns the paths written. The objects
// are named <suite>-<fault> too, so that the faults of several suites can
// be applied to one namespace.
func WriteChaos(dir, suite string, specs []*Spec) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	seen := map[string]string{}
	for _, s := range specs {
		name := objectName(objectName(suite) + "-" + objectName(s.Name))
		// Kubernetes names fold case and punctuation and stop at 63
		// characters, so two faults can come out the same: refuse rather
		// than let one file overwrite the other.
		if prev, dup := seen[name]; dup {
			return paths, fmt.Errorf("suite %q: faults %q and %q would both be named %q in Kubernetes; rename one", suite, prev, s.Name, name)
		}
		seen[name] = s.Name
		b, err := s.yaml(name)
		if err != nil {
			return paths, fmt.Errorf("suite %q: %w", suite, err)
		}
		header := fmt.Sprintf("# cloudtest suite %q, fault %q (%s)\n", suite, s.Name, rangeText(s))
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, append([]byte(header), b...), 0o644); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func rangeText(s *Spec) string {
	if s.DeclRange.Filename == "" {
		return "defined in code"
	}
	return fmt.Sprintf("%s:%d", s.DeclRange.Filename, s.DeclRange.Start.Line)
}
