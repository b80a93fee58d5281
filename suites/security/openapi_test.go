package security

import (
	"fmt"
	"slices"
	"testing"
)

func TestAuthDiscoversEndpointsFromOpenAPI(t *testing.T) {
	spec := `openapi: 3.0.3
info: { title: bank, version: "1" }
paths:
  /api/open:
    get: { responses: { "200": { description: ok } } }
  /api/objects/{id}:
    get: { responses: { "200": { description: ok } } }
    delete: { responses: { "204": { description: gone } } }
  /healthz:
    get: { responses: { "200": { description: ok } } }
`
	for _, weak := range []bool{true, false} {
		base, _ := startAPI(t, weak)
		r := runSuite(t, fmt.Sprintf(`
target "api" { url = %q }
security "s" {
  target = target.api
  scope { allow = ["127.0.0.1"] }
  check "auth" {
    openapi     = "openapi.yaml"
    path_params = { id = "a1" }
    allow       = ["/healthz"]
  }
}
`, base), map[string]string{"openapi.yaml": spec})
		var want []string
		if weak {
			want = []string{"auth/no-credentials"}
		}
		if got := r.ids(); !slices.Equal(got, want) {
			t.Errorf("weak=%v: findings %v, want %v (%s)", weak, got, want, r.suite.Message)
		}
		if weak && r.finding("auth/no-credentials").Where != "/api/open" {
			t.Errorf("the finding names %s", r.finding("auth/no-credentials").Where)
		}
	}
}
