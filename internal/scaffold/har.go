package scaffold

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// HAROptions tune the journey made from a recording.
type HAROptions struct {
	// Duration of the starter load (default 30s).
	Duration string
}

type harLog struct {
	Log struct {
		Entries []harEntry `json:"entries"`
	} `json:"log"`
}

type harEntry struct {
	Started time.Time `json:"startedDateTime"`
	Time    float64   `json:"time"` // ms
	Request struct {
		Method   string      `json:"method"`
		URL      string      `json:"url"`
		Headers  []harHeader `json:"headers"`
		PostData *struct {
			MimeType string `json:"mimeType"`
			Text     string `json:"text"`
		} `json:"postData"`
	} `json:"request"`
	Response struct {
		Status  int `json:"status"`
		Content struct {
			MimeType string `json:"mimeType"`
			Text     string `json:"text"`
		} `json:"content"`
	} `json:"response"`
}

type harHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// idLike is a path segment that names one object (a number, a uuid, an
// opaque id), which a step's name leaves out.
var idLike = regexp.MustCompile(`^[0-9]+$|^[0-9a-fA-F-]{16,}$|^[A-Za-z]{0,3}[-_]?[0-9a-fA-F]{8,}$`)

var staticExt = regexp.MustCompile(`(?i)\.(js|mjs|css|map|png|jpe?g|gif|svg|ico|webp|avif|woff2?|ttf|otf|eot|mp4|webm|mp3)$`)

// static reports whether an entry is a static asset a browser fetched
// (scripts, styles, images, fonts, media), which a load test leaves out.
func static(e harEntry) bool {
	u, err := url.Parse(e.Request.URL)
	if err == nil && staticExt.MatchString(u.Path) {
		return true
	}
	mt := strings.ToLower(e.Response.Content.MimeType)
	for _, p := range []string{"image/", "font/", "text/css", "javascript", "video/", "audio/"} {
		if strings.Contains(mt, p) {
			return true
		}
	}
	return false
}

// Headers a browser adds by itself, or that the client sets, are not
// written into the steps.
var skipHeader = map[string]bool{
	"host": true, "content-length": true, "connection": true, "user-agent": true, "accept": true,
	"accept-encoding": true, "accept-language": true, "origin": true, "referer": true, "cookie": true,
	"cache-control": true, "pragma": true, "priority": true, "te": true, "upgrade-insecure-requests": true,
	"dnt": true, "content-type": true,
}

// FromHAR reads a browser recording (HAR 1.2) and returns a performance
// suite with one journey: the recording's requests to its first origin,
// in order, static assets left out, each expecting the recorded status;
// a string field of a JSON answer whose value a later request sends (a
// token, an id) is captured and sent as the capture; the recorded pauses
// between requests become the steps' think_time.
func FromHAR(src []byte, opts HAROptions) (Files, error) {
	var h harLog
	if err := json.Unmarshal(src, &h); err != nil {
		return nil, fmt.Errorf("the recording is not a HAR file: %w", err)
	}
	if opts.Duration == "" {
		opts.Duration = "30s"
	}
	entries, origin, skipped := replayed(h.Log.Entries)
	if len(entries) == 0 {
		return nil, fmt.Errorf("the recording has no request to replay (static assets are left out)")
	}
	g := &gen{vars: map[string]cty.Value{}}
	caps := harCaptures(entries)
	// Values are replaced by their captures only after they were captured.
	names := map[string]int{}
	var steps strings.Builder
	active := map[string]string{}
	for i, e := range entries {
		think := time.Duration(0)
		if i > 0 {
			prev := entries[i-1]
			think = max(e.Started.Sub(prev.Started.Add(time.Duration(prev.Time*float64(time.Millisecond)))), 0).Round(time.Millisecond)
		}
		steps.WriteString(g.harStep(e, caps[i], think, names, active))
	}
	var b strings.Builder
	b.WriteString("# Written by `cloudtest init --from-har` from a browser recording: a starting point to edit.\n")
	fmt.Fprintf(&b, "# %d requests to %s, in the recorded order", len(entries), origin)
	for _, k := range sortedKeys(skipped) {
		fmt.Fprintf(&b, "; %d %s left out", skipped[k], k)
	}
	b.WriteString(".\n\n")
	b.WriteString(block("variable \"base_url\"", attr("default", hclString(origin))))
	for _, v := range sortedKeys(g.vars) {
		b.WriteString(block("variable "+hclString(v), attr("default", string(hclwrite.TokensForValue(g.vars[v]).Bytes()))+"sensitive = true\n"))
	}
	b.WriteString(block("target \"recorded\"", "url = var.base_url\n") + "\n")
	load := "# one user replaying the recording again and again; the recorded pauses are the steps' think_time\n" + attr("concurrency", "1") + attr("duration", hclString(opts.Duration))
	b.WriteString(block("performance \"recorded\"", "target = target.recorded\n\n"+block("load", load)+"\n"+block("journey \"recorded\"", steps.String())))
	return Files{"performance.hcl": hclwrite.Format([]byte(b.String()))}, nil
}

// replayed returns the recording's requests to its first origin in the
// order they started, and what was left out (static assets, requests to
// other origins) counted by kind.
func replayed(all []harEntry) ([]harEntry, string, map[string]int) {
	var entries []harEntry
	var origin string
	skipped := map[string]int{}
	for _, e := range all {
		u, err := url.Parse(e.Request.URL)
		if err != nil || u.Host == "" {
			continue
		}
		o := u.Scheme + "://" + u.Host
		switch {
		case static(e):
			skipped["static assets"]++
			continue
		case origin == "":
			origin = o
		case o != origin:
			skipped["requests to "+o]++
			continue
		}
		entries = append(entries, e)
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Started.Before(entries[j].Started) })
	return entries, origin, skipped
}

// harCapture is a string field of a JSON answer whose value a later
// request sends, captured as name.
type harCapture struct{ name, field, value string }

// harCaptures finds, per entry, the fields of its JSON answer that a later
// request sends (a token, an id).
func harCaptures(entries []harEntry) [][]harCapture {
	caps := make([][]harCapture, len(entries))
	known := map[string]string{}
	for i, e := range entries {
		var obj map[string]any
		if !strings.Contains(e.Response.Content.MimeType, "json") || json.Unmarshal([]byte(e.Response.Content.Text), &obj) != nil {
			continue
		}
		for _, f := range sortedKeys(obj) {
			s, ok := obj[f].(string)
			if !ok || len(s) < 6 || known[s] != "" || !identifier.MatchString(f) {
				continue
			}
			for _, later := range entries[i+1:] {
				if sends(later, s) {
					name := slug(f)
					for n := 2; capNameUsed(known, name); n++ {
						name = slug(f) + strconv.Itoa(n)
					}
					known[s] = name
					caps[i] = append(caps[i], harCapture{name, f, s})
					break
				}
			}
		}
	}
	return caps
}

// harStep writes the step of one recorded request: its name from the
// method and path (ids as "id"), the request with captured values as
// captures, the recorded status, its captures (made active for the steps
// after it) and the recorded pause before it as think_time.
func (g *gen) harStep(e harEntry, caps []harCapture, think time.Duration, names map[string]int, active map[string]string) string {
	u, _ := url.Parse(e.Request.URL)
	var segs []string
	for _, seg := range strings.Split(strings.Trim(path.Clean("/"+u.Path), "/"), "/") {
		if _, captured := active[seg]; captured || idLike.MatchString(seg) {
			seg = "id"
		}
		segs = append(segs, seg)
	}
	name := slug(e.Request.Method + " " + strings.Join(segs, " "))
	if name == "" {
		name = "request"
	}
	names[name]++
	if names[name] > 1 {
		name += "_" + strconv.Itoa(names[name])
	}
	body := block("http", g.harRequest(e, u, active)) + block("expect", attr("status", strconv.Itoa(e.Response.Status)))
	if len(caps) > 0 {
		var cb strings.Builder
		for _, c := range caps {
			cb.WriteString(attr(c.name, "response.json."+c.field))
			active[c.value] = c.name
		}
		body += block("capture", cb.String())
	}
	if think > 0 {
		// The user's pause before this request, as recorded.
		body = "# recorded: " + think.String() + " after the answer before\n" + attr("think_time", hclString(think.String())) + body
	}
	return block("step "+hclString(name), body)
}

// harRequest writes the http block of a recorded request: method, path
// and query, the headers the browser did not add by itself, the body.
func (g *gen) harRequest(e harEntry, u *url.URL, active map[string]string) string {
	tmpl := func(s string) string { return `"` + withCaptures(s, active) + `"` }
	var hb strings.Builder
	if e.Request.Method != "GET" {
		hb.WriteString(attr("method", hclString(e.Request.Method)))
	}
	p := u.EscapedPath()
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	hb.WriteString(attr("path", tmpl(p)))
	var hs []string
	for _, hd := range e.Request.Headers {
		if skipHeader[strings.ToLower(hd.Name)] || strings.HasPrefix(hd.Name, ":") || strings.HasPrefix(strings.ToLower(hd.Name), "sec-") {
			continue
		}
		hs = append(hs, hclKey(hd.Name)+" = "+tmpl(hd.Value))
	}
	sort.Strings(hs)
	if len(hs) > 0 {
		hb.WriteString(attr("headers", "{ "+strings.Join(hs, ", ")+" }"))
	}
	if pd := e.Request.PostData; pd != nil && pd.Text != "" {
		var body any
		if strings.Contains(pd.MimeType, "json") && json.Unmarshal([]byte(pd.Text), &body) == nil {
			hb.WriteString(attr("json", g.jsonTemplate(body, active)))
		} else {
			hb.WriteString(attr("body", tmpl(pd.Text)))
			if pd.MimeType != "" {
				hb.WriteString("# content type: " + strings.ReplaceAll(pd.MimeType, "\n", " ") + "\n")
			}
		}
	}
	return hb.String()
}

func capNameUsed(known map[string]string, name string) bool {
	for _, n := range known {
		if n == name {
			return true
		}
	}
	return false
}

// sends reports whether a request carries s in its URL, headers or body.
func sends(e harEntry, s string) bool {
	if strings.Contains(e.Request.URL, s) || strings.Contains(e.Request.URL, url.PathEscape(s)) {
		return true
	}
	for _, h := range e.Request.Headers {
		if strings.Contains(h.Value, s) {
			return true
		}
	}
	return e.Request.PostData != nil && strings.Contains(e.Request.PostData.Text, s)
}

// withCaptures escapes s for an HCL quoted template and puts
// ${capture.NAME} where a captured value was.
func withCaptures(s string, active map[string]string) string {
	if len(active) == 0 {
		return hclTemplateText(s)
	}
	values := sortedKeys(active)
	sort.Slice(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	var out strings.Builder
	for len(s) > 0 {
		at, which := -1, ""
		for _, v := range values {
			if i := strings.Index(s, v); i >= 0 && (at < 0 || i < at) {
				at, which = i, v
			}
		}
		if at < 0 {
			out.WriteString(hclTemplateText(s))
			break
		}
		out.WriteString(hclTemplateText(s[:at]))
		out.WriteString("${capture." + active[which] + "}")
		s = s[at+len(which):]
	}
	return out.String()
}

// jsonTemplate writes a JSON value as an HCL expression, with captured
// values as templates and secret-looking string fields as sensitive
// variables.
func (g *gen) jsonTemplate(v any, active map[string]string) string {
	switch x := v.(type) {
	case map[string]any:
		var parts []string
		for _, k := range sortedKeys(x) {
			val := g.jsonTemplate(x[k], active)
			if s, ok := x[k].(string); ok && secretName.MatchString(k) && !strings.Contains(val, "${capture.") {
				vn := slug(k)
				g.vars[vn] = cty.StringVal(s)
				val = "var." + vn
			}
			parts = append(parts, hclKey(k)+" = "+val)
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, g.jsonTemplate(e, active))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		return `"` + withCaptures(x, active) + `"`
	}
	return g.literal(v)
}
