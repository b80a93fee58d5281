// Package schemas validates what cloudtest writes against the published
// JSON Schemas of the formats (OSCAL, SARIF) kept in the steering
// repository's shared/schemas/, for tests. The directory is found next to
// the module root or one of its ancestors (CI lays shared/ beside its fresh
// clone, as ../shared), never at a fixed absolute path.
package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cloudtest/cloudtest/internal/testdb"
)

// The schema files of shared/schemas/.
const (
	OSCALAssessmentResults = "oscal_assessment-results_schema-1.0.6.json"
	SARIF                  = "sarif-schema-2.1.0.json"
)

// Dir returns the shared/schemas directory: the first <ancestor>/shared/schemas
// above the module root that holds go.mod, starting with the module root's
// parent (../shared in CI).
func Dir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
		root = parent
	}
	for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "schemas")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no shared/schemas directory beside the module root %s or above it (CI lays shared/ beside the clone)", root)
		}
	}
}

var (
	mu       sync.Mutex
	compiled = map[string]*jsonschema.Schema{}
)

// Load compiles a schema of shared/schemas once.
func Load(name string) (*jsonschema.Schema, error) {
	mu.Lock()
	defer mu.Unlock()
	if s, ok := compiled[name]; ok {
		return s, nil
	}
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	anchorsBesideRefs(doc)
	// The schemas name themselves by $id and refer to their parts by
	// anchors relative to it, so the resource is added under that name.
	url := path
	if m, ok := doc.(map[string]any); ok {
		if id, ok := m["$id"].(string); ok && id != "" {
			url = id
		}
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", path, err)
	}
	compiled[name] = s
	return s, nil
}

// Check validates a JSON document against the schema name; the error lists
// every violation with its JSON pointer.
func Check(name string, doc []byte) error {
	s, err := Load(name)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("the document is not JSON: %w", err)
	}
	if err := s.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("%s: %s", name, ve.Error())
		}
		return err
	}
	return nil
}

// Validate fails t when doc does not validate against the schema name. A
// missing shared/schemas fails the test in CI and skips it elsewhere.
func Validate(t testing.TB, name string, doc []byte) {
	t.Helper()
	if _, err := Load(name); err != nil {
		if _, derr := Dir(); derr != nil {
			testdb.Unavailable(t, derr.Error())
			return
		}
		t.Fatal(err)
	}
	if err := Check(name, doc); err != nil {
		t.Fatalf("%v\n--- document\n%s", err, doc)
	}
}

// anchorsBesideRefs rewrites {"$id": "#name", "$ref": X} as {"$id": "#name",
// "allOf": [{"$ref": X}]}. NIST's OSCAL schemas declare anchors that way;
// draft-07 ignores every keyword beside "$ref", so a strict validator would
// not find the anchors the schema itself refers to. The rewrite keeps what
// the schema means and lets the anchor count.
func anchorsBesideRefs(v any) {
	switch x := v.(type) {
	case map[string]any:
		id, hasID := x["$id"].(string)
		if ref, hasRef := x["$ref"]; hasID && hasRef && len(id) > 0 && id[0] == '#' {
			delete(x, "$ref")
			x["allOf"] = []any{map[string]any{"$ref": ref}}
		}
		for _, e := range x {
			anchorsBesideRefs(e)
		}
	case []any:
		for _, e := range x {
			anchorsBesideRefs(e)
		}
	}
}
