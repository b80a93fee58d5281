package demobank

import (
	_ "embed"
	"net/http"
)

// openAPI describes the bank's API (OpenAPI 3.0); `cloudtest init
// --from-openapi` starts suites from it, and a test keeps it true to the
// routes.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
