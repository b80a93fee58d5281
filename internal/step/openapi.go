package step

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// A target may name its OpenAPI document (target "x" { openapi = "…" });
// expect { openapi = true } then checks the answer's status, headers and
// body against the operation its request matched (kin-openapi). The
// document's servers are replaced by the target's URL (keeping their base
// path), since the document describes the system wherever it runs.

// openAPI is a target's loaded document, routed.
type openAPI struct {
	router routers.Router
}

// loadOpenAPI reads, checks and routes the document at path for a target
// reached at targetURL.
func loadOpenAPI(path, targetURL string) (*openAPI, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the OpenAPI document %s: %v", filepath.Base(path), err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("the OpenAPI document %s is not valid: %v", filepath.Base(path), err)
	}
	base := ""
	if len(doc.Servers) > 0 {
		if u, err := url.Parse(doc.Servers[0].URL); err == nil {
			base = strings.TrimRight(u.Path, "/")
		}
	}
	doc.Servers = openapi3.Servers{{URL: strings.TrimRight(targetURL, "/") + base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("routing the OpenAPI document %s: %v", filepath.Base(path), err)
	}
	return &openAPI{router: router}, nil
}

// checkOpenAPI checks the answer against the operation of its request.
func (e *Expect) checkOpenAPI(c *checker) {
	if !e.OpenAPI {
		return
	}
	const name = "expect.openapi"
	rng := e.openapiRange
	obs := c.obs
	if obs.api == nil {
		c.bad(name, rng, fmt.Errorf("the step's target has no OpenAPI document: give the target openapi = \"openapi.yaml\""))
		return
	}
	if obs.req == nil {
		c.bad(name, rng, fmt.Errorf("expect.openapi checks http steps"))
		return
	}
	route, params, err := obs.api.router.FindRoute(obs.req)
	if err != nil {
		c.fail(name, rng, fmt.Sprintf("no operation of the OpenAPI document matches %s %s (%v)", obs.req.Method, obs.req.URL.Path, err))
		return
	}
	opts := &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: obs.req, PathParams: params, Route: route, Options: opts},
		Status:                 obs.status, Header: obs.respHeader, Options: opts,
	}
	in.SetBodyBytes([]byte(obs.body))
	err = openapi3filter.ValidateResponse(context.Background(), in)
	if err == nil {
		c.pass(name, rng)
		return
	}
	lines := openAPIProblems(err)
	for i, l := range lines {
		if strings.TrimSpace(l) == "status is not supported" && route.Operation.Responses != nil {
			codes := slices.Sorted(maps.Keys(route.Operation.Responses.Map()))
			lines[i] = fmt.Sprintf("  status %d is not among the operation's documented answers (%s)", obs.status, strings.Join(codes, ", "))
		}
	}
	slices.Sort(lines)
	word := "problems"
	if len(lines) == 1 {
		word = "problem"
	}
	op := route.Operation.OperationID
	if op == "" {
		op = route.Method + " " + route.Path
	}
	c.fail(name, rng, fmt.Sprintf("the answer (status %d) does not match the operation %s (%d %s):\n%s", obs.status, op, len(lines), word, strings.Join(lines, "\n")))
}

// openAPIProblems lists the problems of a validation error one a line: a
// body's by the JSON pointer of the value, as json_schema does.
func openAPIProblems(err error) []string {
	var out []string
	var walk func(err error, reason string)
	walk = func(err error, reason string) {
		var multi openapi3.MultiError
		var re *openapi3filter.ResponseError
		var se *openapi3.SchemaError
		switch {
		case errors.As(err, &multi):
			for _, e := range multi {
				walk(e, reason)
			}
		case errors.As(err, &se):
			if origin := se.Origin; origin != nil {
				var multiOrigin openapi3.MultiError
				if errors.As(origin, &multiOrigin) {
					walk(multiOrigin, reason)
					return
				}
			}
			out = append(out, fmt.Sprintf("  %s: %s", pointer(se.JSONPointer()), se.Reason))
		case errors.As(err, &re) && re.Err != nil:
			walk(re.Err, re.Reason)
		default:
			msg := err.Error()
			if reason != "" && !strings.Contains(msg, reason) {
				msg = reason + ": " + msg
			}
			out = append(out, "  "+msg)
		}
	}
	walk(err, "")
	return out
}

// requestOf is the request that was answered (the last of its redirects).
func requestOf(x *httpExchange) *http.Request {
	if x.resp.Request != nil {
		return x.resp.Request
	}
	return x.req
}
