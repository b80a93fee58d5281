package scaffold

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/suites/functional"
	"github.com/cloudtest/cloudtest/suites/security"
)

const yamlDoc = `openapi: 3.0.3
info: {title: "Card Service", version: "2"}
servers: [{url: "https://cards.bank.example/v2"}]
security: [{bearer: []}]
paths:
  /cards/{card-id}:
    get:
      parameters:
        - {name: card-id, in: path, required: true, schema: {type: string}, example: 'c "1" ${x}'}
      responses:
        "200":
          description: ok
          content: {application/json: {schema: {type: object, required: [number]}}}
  /pins:
    post:
      requestBody:
        content: {application/json: {schema: {type: object, required: [pin, card]}, example: {pin: "1234", card: "c1"}}}
      responses: {"204": {description: set}}
`

// TestAYAMLDocumentWithoutLoginGetsATokenVariable: the starter of a
// document without a login operation asks for a token, moves secret
// fields into sensitive variables, escapes examples, and loads.
func TestAYAMLDocumentWithoutLoginGetsATokenVariable(t *testing.T) {
	files, err := FromOpenAPI([]byte(yamlDoc), Options{DocName: "cards.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	f := string(files["functional.hcl"])
	for _, want := range []string{
		`default = "https://cards.bank.example/v2"`,
		`variable "token"`, `Authorization = "Bearer ${var.token}"`,
		`variable "pin"`, `pin = var.pin`, `status = 204`,
		`path    = "/cards/c \"1\" $${x}"`, `json_exists = ["number"]`,
		`case "get_cards_card_id: GET /cards/{card-id}"`,
	} {
		if !strings.Contains(f, want) {
			t.Errorf("functional.hcl lacks %s:\n%s", want, f)
		}
	}
	if strings.Contains(f, `"1234"`) && !strings.Contains(f, "variable \"pin\" {\n  default   = \"1234\"\n  sensitive = true") {
		t.Errorf("the pin is written outside a sensitive variable:\n%s", f)
	}
	if !strings.Contains(string(files["security.hcl"]), `openapi = "cards.yaml"`) || string(files["cards.yaml"]) != yamlDoc {
		t.Errorf("the security suite does not read the document written beside it:\n%s", files["security.hcl"])
	}
	dir := t.TempDir()
	for name, b := range files {
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	if _, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{functional.Kind, security.Kind}}); diags.HasErrors() {
		t.Fatalf("the starter does not load: %s", diags.Error())
	}
}

func TestNotAnOpenAPIDocumentIsAnError(t *testing.T) {
	for _, src := range []string{"{", `{"openapi": "3.0.0", "paths": {}}`} {
		if _, err := FromOpenAPI([]byte(src), Options{}); err == nil {
			t.Errorf("%q was accepted", src)
		}
	}
}

// A path with control characters (ESC, as a hostile document may hold)
// makes labels the HCL loader reads back (escaped as \u001b, not Go's
// \x1b); a value of the wrong shape is said in words, not as a Go type.
func TestAHostileDocumentMakesSuitesThatLoadOrAPlainError(t *testing.T) {
	doc := `{"openapi":"3.0.0","info":{"title":"x","version":"1"},"paths":{"/b\u001b[31m${x}":{"get":{"responses":{"200":{"description":"ok"}}}}}}`
	files, err := FromOpenAPI([]byte(doc), Options{DocName: "d.json", BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range files {
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	if _, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{functional.Kind, security.Kind}}); diags.HasErrors() {
		t.Fatalf("the starter does not load: %s\n%s", diags.Error(), files["functional.hcl"])
	}
	_, err = FromOpenAPI([]byte(`{"openapi":"3.0.0","info":{"title":"x","version":"1"},"paths":{"/x":{"get":{"responses":5}}}}`), Options{})
	if err == nil || strings.Contains(err.Error(), "struct") || !strings.Contains(err.Error(), "responses must be an object, not a number") {
		t.Fatalf("responses = 5: %v", err)
	}
}
