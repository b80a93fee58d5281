package functional

import (
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/testhttpbin"
)

// A part of go-httpbin described in OpenAPI 3, as a vendor hands it over;
// /uuid is described wrongly on purpose.
const httpbinOpenAPI = `openapi: 3.0.3
info: { title: go-httpbin, version: "2" }
servers:
  - url: https://httpbin.example.test
paths:
  /json:
    get:
      operationId: getSlideshow
      responses:
        "200":
          description: a slideshow
          content:
            application/json:
              schema:
                type: object
                required: [slideshow]
                properties:
                  slideshow:
                    type: object
                    required: [author, title, slides]
                    properties:
                      author: { type: string }
  /uuid:
    get:
      operationId: getUUID
      responses:
        "200":
          description: a UUID
          content:
            application/json:
              schema:
                type: object
                required: [uuid, issued_at]
                properties:
                  uuid: { type: integer }
  /status/{code}:
    get:
      operationId: getStatus
      parameters:
        - { name: code, in: path, required: true, schema: { type: integer } }
      responses:
        "200": { description: ok }
`

// expect { openapi = true } checks an answer against the operation its
// request matched in the target's OpenAPI document: status, content type
// and body, every problem listed.
func TestOpenAPIChecksTheAnswerAgainstItsOperation(t *testing.T) {
	base := testhttpbin.Start(t)
	r := runAgainst(t, base, map[string]string{
		"api/httpbin.yaml": httpbinOpenAPI,
		"suite.hcl": `
target "described" {
  url     = "` + base + `"
  openapi = "api/httpbin.yaml"
}
functional "contract" {
  target = target.described
  case "c" {
    step "slideshow" {
      http { path = "/json" }
      expect { openapi = true }
    }
  }
  case "wrong-body" {
    step "uuid" {
      http { path = "/uuid" }
      expect { openapi = true }
    }
  }
  case "undocumented-status" {
    step "teapot" {
      http { path = "/status/418" }
      expect { openapi = true }
    }
  }
  case "no-operation" {
    step "anything" {
      http { path = "/anything" }
      expect { openapi = true }
    }
  }
}`})
	if res := r.step(t, "c", "slideshow"); res.Status != result.Passed {
		t.Errorf("slideshow %s: %s", res.Status, res.Message)
	}
	for _, tt := range []struct {
		caseName, step string
		want           []string
	}{
		{"wrong-body", "uuid", []string{"the answer (status 200) does not match the operation getUUID (2 problems):\n" +
			"    /issued_at: property \"issued_at\" is missing\n    /uuid: value must be an integer"}},
		{"undocumented-status", "teapot", []string{"the answer (status 418) does not match the operation getStatus (1 problem):\n    status 418 is not among the operation's documented answers (200)"}},
		{"no-operation", "anything", []string{"no operation of the OpenAPI document matches GET /anything"}},
	} {
		res := r.step(t, tt.caseName, tt.step)
		if res.Status != result.Failed {
			t.Errorf("%s %s: %s", tt.step, res.Status, res.Message)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(res.Message, w) {
				t.Errorf("%s: message lacks %q:\n%s", tt.step, w, res.Message)
			}
		}
	}
}

func TestAMissingOpenAPIDocumentIsADiagnostic(t *testing.T) {
	got := loadDiags(t, `
target "x" {
  url     = "http://127.0.0.1:1"
  openapi = "api/none.yaml"
}`)
	if !strings.Contains(got, "suite.hcl:5,13-28: File not found; openapi: api/none.yaml cannot be read: no such file or directory.") {
		t.Errorf("diagnostics:\n%s", got)
	}
}

// An OpenAPI document that is not valid stops the suite with the reason.
func TestAnInvalidOpenAPIDocumentStopsTheSuite(t *testing.T) {
	base := testhttpbin.Start(t)
	r := runAgainst(t, base, map[string]string{
		"api/broken.yaml": "openapi: 3.0.3\ninfo: { version: \"1\" }\npaths: {}\n",
		"suite.hcl": `
target "described" {
  url     = "` + base + `"
  openapi = "api/broken.yaml"
}
functional "contract" {
  target = target.described
  case "c" {
    step "s" {
      http { path = "/json" }
      expect { openapi = true }
    }
  }
}`})
	for _, res := range r.results {
		if res.Level == result.LevelSuite {
			if res.Status != result.Errored || !strings.Contains(res.Message, `target "described": the OpenAPI document broken.yaml is not valid: invalid info: value of title must be a non-empty string`) {
				t.Errorf("suite %s: %s", res.Status, res.Message)
			}
			return
		}
	}
	t.Fatalf("no suite result: %s", outcome(r.results))
}
