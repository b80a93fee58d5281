package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/demobank"
)

// TestInitFromOpenAPIPassesAgainstTheBank fetches the OpenAPI document the
// demo bank serves, writes starter suites from it, and runs them against
// that bank: every operation answers with its documented status and
// fields, and every GET path but the public ones refuses a request
// without credentials.
func TestInitFromOpenAPIPassesAgainstTheBank(t *testing.T) {
	bank, err := demobank.Start(context.Background(), "127.0.0.1:0", demobank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bank.Close()
	resp, err := http.Get(bank.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	work := t.TempDir()
	docPath := filepath.Join(work, "bank-openapi.json")
	os.WriteFile(docPath, doc, 0o644)
	suites := filepath.Join(work, "suites")

	var stdout, stderr bytes.Buffer
	if code := run([]string{"init", "--from-openapi", docPath, "--base-url", bank.URL, suites}, &stdout, &stderr); code != exitOK {
		t.Fatalf("init: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	functional, _ := os.ReadFile(filepath.Join(suites, "functional.hcl"))
	for _, want := range []string{`case "getAccount: GET /api/accounts/{id}"`, `path    = "/api/transfers/${capture.id}"`, `sensitive = true`, `json_exists = ["id", "owner", "balance", "currency"]`} {
		if !strings.Contains(string(functional), want) {
			t.Errorf("functional.hcl lacks %s:\n%s", want, functional)
		}
	}
	if code := run([]string{"init", "--from-openapi", docPath, suites}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "--force") {
		t.Errorf("init over existing files: exit %d, %s", code, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"validate", suites}, &stdout, &stderr); code != exitOK {
		t.Fatalf("validate: exit %d\n%s", code, stderr.String())
	}
	out := t.TempDir()
	code := run([]string{"run", "--out", out, suites}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("run against the bank: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	dir := onlyRunDir(t, out)
	rep, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	for _, want := range []string{`"name": "demobank-api"`, `"name": "demobank-auth"`, `"name": "createTransfer: POST /api/transfers"`} {
		if !strings.Contains(string(rep), want) {
			t.Errorf("report.json lacks %s", want)
		}
	}
	if bytes.Contains(rep, []byte("wonderland")) {
		t.Error("the example password reached report.json")
	}
}
