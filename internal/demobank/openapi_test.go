package demobank

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestTheOpenAPIDocumentNamesEveryRoute keeps openapi.json true: every
// route the bank registers is documented and every documented operation is
// a route (the insecure bank's planted /admin/users excepted), and the bank
// serves the document. That each operation answers as documented is shown
// by the suites `cloudtest init --from-openapi` makes from it, which pass
// against the bank (cmd/cloudtest TestInitFromOpenAPIPassesAgainstTheBank).
func TestTheOpenAPIDocumentNamesEveryRoute(t *testing.T) {
	var routes []string
	re := regexp.MustCompile(`HandleFunc\("([A-Z]+) ([^"]+)"`)
	for _, f := range []string{"bank.go", "defence.go"} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			if m[2] != "/admin/users" {
				routes = append(routes, m[1]+" "+m[2])
			}
		}
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	sort.Strings(routes)
	sort.Strings(documented)
	if len(routes) < 10 || !slices.Equal(routes, documented) {
		t.Fatalf("routes and openapi.json differ:\nroutes:     %v\ndocumented: %v", routes, documented)
	}
	srv, err := Start(context.Background(), "127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != string(openAPI) {
		t.Fatalf("GET /openapi.json: %d", resp.StatusCode)
	}
}
