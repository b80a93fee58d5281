// Package scaffold writes starter suites from what a team already has: an
// OpenAPI document (`cloudtest init --from-openapi`). The files it writes
// are ordinary HCL that validates and runs; they are a starting point to
// edit, not a contract.
package scaffold

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"sigs.k8s.io/yaml"
)

// Files are the files of a starter, by name.
type Files map[string][]byte

// Options tune the starter.
type Options struct {
	// BaseURL is the default of variable "base_url"; the document's first
	// server when empty, else http://127.0.0.1:8080.
	BaseURL string
	// DocName is the file name the document is written under beside the
	// suites (the security suite's auth check reads it).
	DocName string
}

type document struct {
	Info struct {
		Title   string `json:"title"`
		Version string `json:"version"`
	} `json:"info"`
	Servers    []struct{ URL string } `json:"servers"`
	Security   *[]map[string]any      `json:"security"`
	Components struct {
		Schemas         map[string]json.RawMessage `json:"schemas"`
		SecuritySchemes map[string]struct {
			Type   string `json:"type"`
			Scheme string `json:"scheme"`
		} `json:"securitySchemes"`
	} `json:"components"`
	Paths map[string]map[string]json.RawMessage `json:"paths"`
}

type operation struct {
	OperationID string            `json:"operationId"`
	Summary     string            `json:"summary"`
	Security    *[]map[string]any `json:"security"`
	Parameters  []struct {
		Name     string          `json:"name"`
		In       string          `json:"in"`
		Required bool            `json:"required"`
		Example  any             `json:"example"`
		Schema   json.RawMessage `json:"schema"`
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Example any             `json:"example"`
			Schema  json.RawMessage `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"content"`
		Links map[string]struct {
			OperationID string            `json:"operationId"`
			Parameters  map[string]string `json:"parameters"`
		} `json:"links"`
	} `json:"responses"`
}

type schema struct {
	Ref        string                     `json:"$ref"`
	Type       string                     `json:"type"`
	Required   []string                   `json:"required"`
	Properties map[string]json.RawMessage `json:"properties"`
	Items      json.RawMessage            `json:"items"`
	Example    any                        `json:"example"`
	Format     string                     `json:"format"`
}

// op is one operation, ready to write.
type op struct {
	method, path, id, summary string
	secured                   bool
	raw                       operation
	status                    int
	required                  []string // required fields of an object answer
	itemRequired              []string // required fields of each element of an array answer
	jsonAnswer                bool
	links                     []opLink
	linkedTo                  bool
}

type opLink struct {
	target string            // operationId
	params map[string]string // parameter -> field of the answer
}

// FromOpenAPI reads an OpenAPI 3 document (JSON or YAML) and returns a
// functional suite (one case per operation, with the document's example
// request, its first success status and its required answer fields; a
// login operation, when there is one, in setup; linked operations after
// the one that links to them) and a security suite (the auth check on
// every GET path, the public ones allowed), and the document itself.
func FromOpenAPI(src []byte, opts Options) (Files, error) {
	js, err := yaml.YAMLToJSON(src)
	if err != nil {
		return nil, fmt.Errorf("the document is neither JSON nor YAML: %w", err)
	}
	var doc document
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, fmt.Errorf("the document is not an OpenAPI document: %w", jsonShape(err))
	}
	if len(doc.Paths) == 0 {
		return nil, fmt.Errorf("the document has no paths")
	}
	if opts.DocName == "" {
		opts.DocName = "openapi.json"
	}
	base := opts.BaseURL
	if base == "" && len(doc.Servers) > 0 && strings.HasPrefix(doc.Servers[0].URL, "http") {
		base = doc.Servers[0].URL
	}
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	g := &gen{doc: &doc, vars: map[string]cty.Value{}}
	ops, err := g.operations()
	if err != nil {
		return nil, err
	}
	name := slug(doc.Info.Title)
	if name == "" {
		name = "api"
	}
	functional := g.functional(name, ops)
	security := g.security(name, ops, opts.DocName, base)
	var head strings.Builder
	fmt.Fprintf(&head, "# Written by `cloudtest init --from-openapi` from %s %s: a starting point to edit.\n", strings.TrimSpace(doc.Info.Title), doc.Info.Version)
	head.WriteString("# One case per operation, with the document's example request, its first\n# success status and the fields its answer requires.\n\n")
	head.WriteString(block("variable \"base_url\"", attr("default", hclString(base))))
	u, _ := url.Parse(base)
	host := "127.0.0.1"
	if u != nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	head.WriteString(block("variable \"scope_host\"", "description = \"The host the security suite may send to.\"\n"+attr("default", hclString(host))))
	for _, v := range sortedKeys(g.vars) {
		head.WriteString(block("variable "+hclString(v), attr("default", string(hclwrite.TokensForValue(g.vars[v]).Bytes()))+"sensitive = true\n"))
	}
	if g.needsToken {
		head.WriteString(block("variable \"token\"", "description = \"A bearer token for the operations that need one (the document has no login operation).\"\ndefault = \"\"\nsensitive = true\n"))
	}
	head.WriteString(block("target \"api\"", "url = var.base_url\n") + "\n")
	return Files{
		"functional.hcl": hclwrite.Format([]byte(head.String() + functional)),
		"security.hcl":   hclwrite.Format([]byte(security)),
		opts.DocName:     src,
	}, nil
}

type gen struct {
	doc        *document
	vars       map[string]cty.Value // sensitive variables with their example values
	login      *op
	needsToken bool
}

var methods = []string{"get", "post", "put", "patch", "delete"}

func (g *gen) operations() ([]*op, error) {
	var ops []*op
	byID := map[string]*op{}
	paths := make([]string, 0, len(g.doc.Paths))
	for p := range g.doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, m := range methods {
			raw, ok := g.doc.Paths[p][m]
			if !ok {
				continue
			}
			var o operation
			if err := json.Unmarshal(raw, &o); err != nil {
				return nil, fmt.Errorf("%s %s: %w", strings.ToUpper(m), p, jsonShape(err))
			}
			x := &op{method: strings.ToUpper(m), path: p, id: o.OperationID, summary: o.Summary, raw: o}
			if x.id == "" {
				x.id = slug(m + " " + p)
			}
			sec := g.doc.Security
			if o.Security != nil {
				sec = o.Security
			}
			x.secured = sec != nil && len(*sec) > 0
			g.answer(x)
			ops = append(ops, x)
			byID[x.id] = x
		}
	}
	for _, x := range ops {
		for _, l := range x.links {
			if t := byID[l.target]; t != nil && t != x {
				t.linkedTo = true
			}
		}
		if g.login == nil && !x.secured && x.method == "POST" && slices.Contains(x.required, "token") {
			g.login = x
		}
	}
	return ops, nil
}

// answer finds the first success status, the required fields of its JSON
// answer and its links.
func (g *gen) answer(x *op) {
	codes := make([]string, 0, len(x.raw.Responses))
	for c := range x.raw.Responses {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		n, err := strconv.Atoi(c)
		if err != nil || n < 200 || n > 299 {
			continue
		}
		x.status = n
		r := x.raw.Responses[c]
		for _, l := range r.Links {
			ol := opLink{target: l.OperationID, params: map[string]string{}}
			for p, expr := range l.Parameters {
				if f, ok := strings.CutPrefix(expr, "$response.body#/"); ok && !strings.Contains(f, "/") {
					ol.params[p] = f
				}
			}
			x.links = append(x.links, ol)
		}
		sort.Slice(x.links, func(i, j int) bool { return x.links[i].target < x.links[j].target })
		for ct, body := range r.Content {
			if !strings.Contains(ct, "json") {
				continue
			}
			x.jsonAnswer = true
			s := g.resolve(body.Schema)
			switch s.Type {
			case "array":
				x.itemRequired = g.resolve(s.Items).Required
			default:
				x.required = s.Required
			}
		}
		return
	}
	x.status = 200
}

func (g *gen) resolve(raw json.RawMessage) schema {
	var s schema
	for range 10 {
		if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
			return schema{}
		}
		name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/")
		if !ok {
			return s
		}
		raw, s = g.doc.Components.Schemas[name], schema{}
	}
	return s
}

// example is a value for a schema: its example, or one made from its type.
func (g *gen) example(raw json.RawMessage) any {
	s := g.resolve(raw)
	if s.Example != nil {
		return s.Example
	}
	switch s.Type {
	case "integer", "number":
		return 1
	case "boolean":
		return true
	case "array":
		return []any{g.example(s.Items)}
	case "object":
		out := map[string]any{}
		for _, p := range s.Required {
			out[p] = g.example(s.Properties[p])
		}
		return out
	}
	if s.Format == "date-time" {
		return "2026-01-01T00:00:00Z"
	}
	return "example"
}

var secretName = regexp.MustCompile(`(?i)pass|secret|pin$|otp|token`)

func (g *gen) functional(name string, ops []*op) string {
	var b strings.Builder
	b.WriteString("functional " + hclString(name+"-api") + " {\n")
	b.WriteString("target = target.api\n\n")
	if l := g.login; l != nil {
		b.WriteString(block("setup", g.step(l, "login", nil, map[string]string{"token": "token"})))
	}
	byID := map[string]*op{}
	for _, x := range ops {
		byID[x.id] = x
	}
	for _, x := range ops {
		if x.linkedTo {
			continue
		}
		var steps strings.Builder
		captures := map[string]string{}
		var after []string
		for _, l := range x.links {
			for p, field := range l.params {
				captures[p] = field
			}
			after = append(after, l.target)
		}
		steps.WriteString(g.step(x, x.id, nil, captures))
		for _, id := range after {
			t := byID[id]
			if t == nil {
				continue
			}
			given := map[string]string{}
			for p := range captures {
				given[p] = "${capture." + slug(p) + "}"
			}
			steps.WriteString(g.step(t, t.id, given, nil))
		}
		title := x.id + ": " + x.method + " " + x.path
		b.WriteString("\n" + block("case "+hclString(title), steps.String()))
	}
	b.WriteString("}\n")
	return b.String()
}

// step writes one step; given are path parameters taken from captures,
// and captures (parameter -> answer field) are taken from the answer.
func (g *gen) step(x *op, name string, given, captures map[string]string) string {
	var h strings.Builder
	if x.method != "GET" {
		h.WriteString(attr("method", hclString(x.method)))
	}
	path, query, headers := g.parameters(x, given)
	h.WriteString(attr("path", `"`+path+`"`))
	if len(query) > 0 {
		h.WriteString(attr("query", string(hclwrite.TokensForValue(cty.ObjectVal(query)).Bytes())))
	}
	if x.secured && (g.login == nil || x != g.login) {
		if g.login != nil {
			headers["Authorization"] = `"Bearer ${capture.token}"`
		} else {
			g.needsToken = true
			headers["Authorization"] = `"Bearer ${var.token}"`
		}
	}
	if len(headers) > 0 {
		var parts []string
		for _, k := range sortedKeys(headers) {
			parts = append(parts, hclKey(k)+" = "+headers[k])
		}
		h.WriteString(attr("headers", "{ "+strings.Join(parts, ", ")+" }"))
	}
	if rb := x.raw.RequestBody; rb != nil {
		for ct, c := range rb.Content {
			if !strings.Contains(ct, "json") {
				continue
			}
			ex := c.Example
			if ex == nil {
				ex = g.example(c.Schema)
			}
			h.WriteString(attr("json", g.jsonValue(ex)))
			break
		}
	}
	var e strings.Builder
	e.WriteString(attr("status", strconv.Itoa(x.status)))
	if len(x.required) > 0 {
		e.WriteString(attr("json_exists", string(hclwrite.TokensForValue(stringList(x.required)).Bytes())))
	}
	var out strings.Builder
	out.WriteString(block("http", h.String()))
	out.WriteString(block("expect", e.String()))
	out.WriteString(assertAndCapture(x, captures))
	return block("step "+hclString(name), out.String())
}

// assertAndCapture are a step's assert that every element of a list answer
// has the fields the document requires, and its captures.
func assertAndCapture(x *op, captures map[string]string) string {
	var out strings.Builder
	if len(x.itemRequired) > 0 {
		var conds []string
		for _, f := range x.itemRequired {
			conds = append(conds, "!can(x."+f+")")
		}
		out.WriteString(block("assert", attr("condition", "length([for x in response.json : x if "+strings.Join(conds, " || ")+"]) == 0")+
			attr("error_message", hclString("Every element of the answer has "+strings.Join(x.itemRequired, ", ")+", as the document requires."))))
	}
	if len(captures) > 0 {
		var c strings.Builder
		for _, p := range sortedKeys(captures) {
			c.WriteString(attr(slug(p), "response.json."+captures[p]))
		}
		out.WriteString(block("capture", c.String()))
	}
	return out.String()
}

// parameters are an operation's path with its parameters filled in (from
// given, else an example), its query and its header parameters.
func (g *gen) parameters(x *op, given map[string]string) (path string, query map[string]cty.Value, headers map[string]string) {
	path = hclTemplateText(x.path)
	query, headers = map[string]cty.Value{}, map[string]string{}
	for _, p := range x.raw.Parameters {
		ex := p.Example
		if ex == nil {
			ex = g.example(p.Schema)
		}
		switch p.In {
		case "path":
			v, ok := given[p.Name]
			if !ok {
				v = hclTemplateText(fmt.Sprint(ex))
			}
			path = strings.ReplaceAll(path, "{"+p.Name+"}", v)
		case "query":
			if p.Required || p.Example != nil {
				query[p.Name] = cty.StringVal(fmt.Sprint(ex))
			}
		case "header":
			if p.Required {
				headers[p.Name] = hclString(fmt.Sprint(ex))
			}
		}
	}
	return path, query, headers
}

// jsonValue writes a request body, with the values of secret-looking
// fields moved into sensitive variables.
func (g *gen) jsonValue(v any) string {
	obj, ok := v.(map[string]any)
	if !ok {
		return g.literal(v)
	}
	var parts []string
	for _, k := range sortedKeys(obj) {
		val := g.literal(obj[k])
		if s, isStr := obj[k].(string); isStr && secretName.MatchString(k) {
			vn := slug(k)
			g.vars[vn] = cty.StringVal(s)
			val = "var." + vn
		}
		parts = append(parts, hclKey(k)+" = "+val)
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

func (g *gen) literal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	t, err := ctyjson.ImpliedType(b)
	if err != nil {
		return "null"
	}
	cv, err := ctyjson.Unmarshal(b, t)
	if err != nil {
		return "null"
	}
	return string(hclwrite.TokensForValue(cv).Bytes())
}

func (g *gen) security(name string, ops []*op, docName, base string) string {
	var public []string
	for _, x := range ops {
		if x.method == "GET" && !x.secured {
			public = append(public, x.path)
		}
	}
	var b strings.Builder
	b.WriteString("# Written by `cloudtest init --from-openapi`: every GET path of the document\n# is tried without credentials; the ones it marks public (security: []) are allowed.\n\n")
	b.WriteString("security " + hclString(name+"-auth") + " {\n")
	b.WriteString("target = target.api\n\n")
	b.WriteString(block("scope", "allow = [var.scope_host]\n"))
	check := attr("openapi", hclString(docName))
	if len(public) > 0 {
		check += attr("allow", string(hclwrite.TokensForValue(stringList(public)).Bytes()))
	}
	b.WriteString(block("check \"auth\"", check))
	b.WriteString("}\n")
	return b.String()
}

func block(header, body string) string { return header + " {\n" + body + "}\n" }

func attr(name, value string) string { return name + " = " + value + "\n" }

func hclString(s string) string { return string(hclwrite.TokensForValue(cty.StringVal(s)).Bytes()) }

// hclTemplateText escapes text for the inside of an HCL quoted template.
func hclTemplateText(s string) string {
	q := hclString(s)
	return q[1 : len(q)-1]
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func hclKey(k string) string {
	if identifier.MatchString(k) {
		return k
	}
	return hclString(k)
}

// slug makes a name from text: lower case, runs of other characters as "-"
// (or "_" for identifiers it is used as).
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			if dash && b.Len() > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}

func stringList(s []string) cty.Value {
	vals := make([]cty.Value, len(s))
	for i, x := range s {
		vals[i] = cty.StringVal(x)
	}
	return cty.TupleVal(vals)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// jsonShape says in words what a document's value had the wrong shape
// (json's own error prints the Go type it was read into).
func jsonShape(err error) error {
	var ute *json.UnmarshalTypeError
	if !errors.As(err, &ute) {
		return err
	}
	want := "another kind of value"
	switch ute.Type.Kind() {
	case reflect.Map, reflect.Struct:
		want = "an object"
	case reflect.Slice, reflect.Array:
		want = "a list"
	case reflect.String:
		want = "a string"
	case reflect.Bool:
		want = "true or false"
	case reflect.Int, reflect.Int64, reflect.Float64:
		want = "a number"
	}
	field := ute.Field
	if field == "" {
		field = "the document"
	}
	got := map[string]string{"number": "a number", "string": "a string", "bool": "true or false", "array": "a list", "object": "an object"}[ute.Value]
	if got == "" {
		got = ute.Value
	}
	return fmt.Errorf("%s must be %s, not %s", field, want, got)
}
