package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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

// harRecorder records real exchanges with the demo bank as a browser's
// HAR 1.2 file would.
type harRecorder struct {
	t       *testing.T
	entries []map[string]any
}

func (h *harRecorder) do(method, url, ctype, body string, headers map[string]string) map[string]any {
	h.t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("User-Agent", "Mozilla/5.0")
	req.Header.Set("Accept-Language", "en")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var hs []map[string]string
	for k, vs := range req.Header {
		hs = append(hs, map[string]string{"name": k, "value": vs[0]})
	}
	hs = append(hs, map[string]string{"name": "Host", "value": req.URL.Host})
	r := map[string]any{"method": method, "url": url, "headers": hs}
	if body != "" {
		r["postData"] = map[string]string{"mimeType": ctype, "text": body}
	}
	mime := resp.Header.Get("Content-Type")
	if strings.HasSuffix(url, ".js") {
		mime = "application/javascript" // what a real asset server says
	}
	h.entries = append(h.entries, map[string]any{
		"startedDateTime": start.UTC().Format(time.RFC3339Nano), "time": float64(time.Since(start).Microseconds()) / 1000,
		"request": r, "response": map[string]any{"status": resp.StatusCode, "content": map[string]string{"mimeType": mime, "text": string(b)}},
	})
	time.Sleep(30 * time.Millisecond) // the user reads the page
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

// TestInitFromHARReplaysTheRecordingAgainstTheBank records a session with
// the demo bank (login, accounts, a transfer and reading it back, plus a
// script the page loads), makes a performance suite of it and runs it.
func TestInitFromHARReplaysTheRecordingAgainstTheBank(t *testing.T) {
	bank, err := demobank.Start(context.Background(), "127.0.0.1:0", demobank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bank.Close()
	rec := &harRecorder{t: t}
	rec.do("GET", bank.URL+"/healthz", "", "", nil)
	rec.do("GET", bank.URL+"/static/app.js", "", "", nil)
	login := rec.do("POST", bank.URL+"/api/login", "application/json", `{"user":"alice","password":"wonderland"}`, nil)
	auth := map[string]string{"Authorization": "Bearer " + login["token"].(string)}
	rec.do("GET", bank.URL+"/api/accounts", "", "", auth)
	tr := rec.do("POST", bank.URL+"/api/transfers", "application/json", `{"from":1,"to":2,"amount":0.01}`, auth)
	rec.do("GET", bank.URL+"/api/transfers/"+tr["id"].(string), "", "", auth)
	har, _ := json.Marshal(map[string]any{"log": map[string]any{"version": "1.2", "entries": rec.entries}})
	work := t.TempDir()
	harPath := filepath.Join(work, "session.har")
	os.WriteFile(harPath, har, 0o644)
	suites := filepath.Join(work, "suites")

	var stdout, stderr bytes.Buffer
	if code := run([]string{"init", "--from-har", harPath, "--duration", "2s", suites}, &stdout, &stderr); code != exitOK {
		t.Fatalf("init: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	perf, _ := os.ReadFile(filepath.Join(suites, "performance.hcl"))
	for _, want := range []string{
		"1 static assets left out", `token = response.json.token`, `Authorization = "Bearer ${capture.token}"`,
		`id = response.json.id`, `path    = "/api/transfers/${capture.id}"`, `password = var.password`, "# recorded: ", `think_time`,
	} {
		if !strings.Contains(string(perf), want) {
			t.Errorf("performance.hcl lacks %s:\n%s", want, perf)
		}
	}
	// Each request after the first waits its recorded pause (the recorder
	// slept 30 ms after every answer) as the step's think_time.
	thinks := regexp.MustCompile(`think_time = "([0-9]+)ms"`).FindAllStringSubmatch(string(perf), -1)
	if len(thinks) != 4 {
		t.Errorf("performance.hcl has %d steps with a think_time, want 4 (every kept request after the first):\n%s", len(thinks), perf)
	}
	for _, m := range thinks {
		if ms, _ := strconv.Atoi(m[1]); ms < 30 {
			t.Errorf("a step's think_time is %s ms, shorter than the recorded 30 ms pause", m[1])
		}
	}
	if strings.Contains(string(perf), "app.js") || strings.Contains(string(perf), login["token"].(string)) {
		t.Errorf("performance.hcl keeps the static asset or the recorded token:\n%s", perf)
	}
	out := t.TempDir()
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"run", "--out", out, suites}, &stdout, &stderr); code != exitOK {
		t.Fatalf("run the recording against the bank: exit %d\n%s\n%s\n%s", code, stdout.String(), stderr.String(), perf)
	}
	dir := onlyRunDir(t, out)
	rep, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if !strings.Contains(string(rep), `"name": "recorded › get_api_transfers_id"`) {
		t.Errorf("report.json lacks the replayed steps:\n%.2000s", rep)
	}
}
