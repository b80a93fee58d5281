package security

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

// sqlErrors are the error messages of the common databases and drivers; a
// probe whose answer shows one that the control answer does not leaks a
// database error.
var sqlErrors = regexp.MustCompile(`(?i)(SQL syntax.*MySQL|MariaDB server version|SQLSTATE\[|syntax error at or near|unterminated quoted string|pq: |ERROR: .*\(SQLSTATE|ORA-\d{5}|Microsoft OLE DB|ODBC SQL Server Driver|SQLite3?::|sqlite3\.OperationalError|near ".*": syntax error|quoted string not properly terminated|Incorrect syntax near|PSQLException|com\.mysql\.jdbc)`)

var passwd = regexp.MustCompile(`root:[^:\n]*:0:0:`)

// sender sends one value of a parameter.
type sender func(ctx context.Context, value string) (*answer, error)

func (ss *session) paramSender(p *Param) (sender, error) {
	var hdr map[string]string
	if p.Identity != "" {
		var err error
		if hdr, err = ss.identity(p.Identity); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context, value string) (*answer, error) {
		h := map[string]string{}
		for k, v := range hdr {
			h[k] = v
		}
		u, err := url.Parse(ss.url(p.Path))
		if err != nil {
			return nil, err
		}
		var body []byte
		switch p.In {
		case "query":
			q := u.Query()
			q.Set(p.Name, value)
			u.RawQuery = q.Encode()
		case "form":
			body = []byte(url.Values{p.Name: {value}}.Encode())
			h["Content-Type"] = "application/x-www-form-urlencoded"
		case "json":
			body, _ = json.Marshal(map[string]string{p.Name: value})
			h["Content-Type"] = "application/json"
		}
		return ss.send(ctx, p.Method, u.String(), h, body)
	}, nil
}

func marker() int64 {
	n, _ := rand.Int(rand.Reader, big.NewInt(900))
	return n.Int64() + 100
}

// injectionCheck probes each named parameter for SQL injection (error
// signatures, and a time delay compared with a control request), command
// injection (arithmetic only a shell would do), path traversal and
// reflected XSS. Every probe is compared with a control request carrying
// the parameter's harmless value, so what the page always says is not
// taken for a leak.
type injectionCheck struct {
	Params []*Param
	Probes []string
	Sleep  time.Duration
}

// Param is a parameter the injection check probes.
type Param struct {
	Name, Path, In, Method, Identity string
	// Value is the harmless value of the control request.
	Value     string
	DeclRange hcl.Range
}

var injectionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "probes"}, {Name: "sleep"}},
	Blocks: []hcl.BlockHeaderSchema{{Type: "parameter", LabelNames: []string{"name"}}}}

var paramSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "path", Required: true}, {Name: "in"}, {Name: "method"}, {Name: "identity"}, {Name: "value"},
}}

var allProbes = []string{"sql", "command", "path_traversal", "xss"}

// maxSleep bounds an injected sleep so that the delayed answer still comes
// within the probe's timeout.
const maxSleep = probeTimeout - 2*time.Second

func init() {
	register(checkKind{name: "injection", rank: 60, schema: injectionSchema, needs: "the parameters to probe",
		defaults: func() settings { return &injectionCheck{Probes: allProbes, Sleep: 2 * time.Second} }})
}

func (c *injectionCheck) decode(b *hcl.Block, content *hcl.BodyContent, dc *config.DecodeContext) hcl.Diagnostics {
	diags := attrs{"probes": stringsAttr(dc, &c.Probes), "sleep": c.decodeSleep(dc)}.decode(content)
	for _, p := range c.Probes {
		if !contains(allProbes, p) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown probe",
				Detail:  fmt.Sprintf("The injection check's probes are %s; found %q.", strings.Join(allProbes, ", "), p),
				Subject: content.Attributes["probes"].Expr.Range().Ptr()})
		}
	}
	for _, pb := range content.Blocks {
		p, d := decodeParam(pb, dc)
		diags = append(diags, d...)
		c.Params = append(c.Params, p)
	}
	if len(c.Params) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Injection check without parameters",
			Detail:  "The injection check probes the parameters you name: add parameter \"q\" { path = \"/search\", in = \"query\" }.",
			Subject: b.DefRange.Ptr()})
	}
	return diags
}

func (c *injectionCheck) decodeSleep(dc *config.DecodeContext) func(*hcl.Attribute) hcl.Diagnostics {
	return func(a *hcl.Attribute) (d hcl.Diagnostics) {
		c.Sleep, d = dc.Duration(a)
		if !d.HasErrors() && c.Sleep.Round(time.Second) > maxSleep {
			d = append(d, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Sleep too long",
				Detail: fmt.Sprintf("The attribute \"sleep\" must be at most %s: a probe waits %s for its answer, which must hold the injected sleep (rounded to whole seconds) and the server's own time; found %s.",
					maxSleep, probeTimeout, c.Sleep),
				Subject: a.Expr.Range().Ptr()})
		}
		return d
	}
}

func decodeParam(b *hcl.Block, dc *config.DecodeContext) (*Param, hcl.Diagnostics) {
	content, diags := b.Body.Content(paramSchema)
	p := &Param{Name: b.Labels[0], In: "query", Method: "GET", Value: "1", DeclRange: b.DefRange}
	var d hcl.Diagnostics
	for name, dst := range map[string]*string{"path": &p.Path, "method": &p.Method, "identity": &p.Identity, "value": &p.Value} {
		if a, ok := content.Attributes[name]; ok {
			*dst, d = dc.String(a)
			diags = append(diags, d...)
		}
	}
	if a, ok := content.Attributes["in"]; ok {
		p.In, d = dc.OneOf(a, "query", "form", "json")
		diags = append(diags, d...)
	}
	p.Method = strings.ToUpper(p.Method)
	return p, diags
}

func (c *injectionCheck) run(ctx context.Context, ss *session) ([]result.Finding, error) {
	var out []result.Finding
	for _, p := range c.Params {
		send, err := ss.paramSender(p)
		if err != nil {
			return out, err
		}
		control, err := send(ctx, p.Value)
		if err != nil {
			return out, err
		}
		where := fmt.Sprintf("%s %s (%s parameter %q)", p.Method, p.Path, p.In, p.Name)
		for _, probe := range c.Probes {
			var f *result.Finding
			switch probe {
			case "sql":
				f, err = probeSQL(ctx, send, p, control, where, c.Sleep)
			case "command":
				f, err = probeCommand(ctx, send, p, control, where)
			case "path_traversal":
				f, err = probeTraversal(ctx, send, control, where)
			case "xss":
				f, err = probeXSS(ctx, send, where)
			}
			if err != nil {
				return out, err
			}
			if f != nil {
				out = append(out, *f)
			}
		}
	}
	return out, nil
}

func probeSQL(ctx context.Context, send sender, p *Param, control *answer, where string, sleep time.Duration) (*result.Finding, error) {
	if !sqlErrors.Match(control.body) {
		for _, payload := range []string{p.Value + "'", p.Value + `"`, p.Value + "')", p.Value + "\\"} {
			a, err := send(ctx, payload)
			if err != nil {
				return nil, err
			}
			if m := sqlErrors.Find(a.body); m != nil {
				f := finding("injection", "sql-error", "high", "SQL error shown for a quote in a parameter", where,
					fmt.Sprintf("The value %q made the answer show a database error (%q) that the control value did not: the parameter reaches SQL unescaped.", payload, string(m)),
					"OWASP WSTG-INPV-05; CWE-89", a)
				return &f, nil
			}
		}
	}
	// Blind: a delay the database makes, against the control's time;
	// confirmed by a second control and probe so that one slow answer is
	// not a finding.
	secs := int(sleep.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	for _, payload := range []string{
		fmt.Sprintf("%s'||pg_sleep(%d)||'", p.Value, secs),
		fmt.Sprintf("(SELECT 1 FROM pg_sleep(%d))", secs),
		fmt.Sprintf("%s' AND SLEEP(%d)-- -", p.Value, secs),
		fmt.Sprintf("%s AND SLEEP(%d)", p.Value, secs),
	} {
		delayed := 0
		var last *answer
		for range 2 {
			c, err := send(ctx, p.Value)
			if err != nil {
				return nil, err
			}
			a, err := send(ctx, payload)
			if err != nil {
				return nil, err
			}
			if a.dur-c.dur < time.Duration(secs)*time.Second*8/10 {
				break
			}
			delayed++
			last = a
			last.ex.ResponseBody += fmt.Sprintf("\n(answered in %s; the control value in %s)", a.dur.Round(time.Millisecond), c.dur.Round(time.Millisecond))
		}
		if delayed == 2 {
			f := finding("injection", "sql-blind-time", "high", "Blind SQL injection (time delay)", where,
				fmt.Sprintf("The value %q delayed the answer by about %ds, twice, while the control value answered at once: the database ran the injected sleep.", payload, secs),
				"OWASP WSTG-INPV-05; CWE-89", last)
			return &f, nil
		}
	}
	return nil, nil
}

func probeCommand(ctx context.Context, send sender, p *Param, control *answer, where string) (*result.Finding, error) {
	m := marker()
	want := fmt.Sprint(7000 + m)
	if strings.Contains(string(control.body), want) {
		return nil, nil
	}
	for _, payload := range []string{
		fmt.Sprintf("%s;expr 7000 + %d", p.Value, m),
		fmt.Sprintf("%s|expr 7000 + %d", p.Value, m),
		fmt.Sprintf("%s$(expr 7000 + %d)", p.Value, m),
		fmt.Sprintf("%s`expr 7000 + %d`", p.Value, m),
		fmt.Sprintf("%s&& expr 7000 + %d", p.Value, m),
	} {
		a, err := send(ctx, payload)
		if err != nil {
			return nil, err
		}
		if strings.Contains(string(a.body), want) {
			f := finding("injection", "command", "critical", "Command injection", where,
				fmt.Sprintf("The value %q made the answer contain %s, the result of the arithmetic only a shell would do: the parameter reaches a shell.", payload, want),
				"OWASP WSTG-INPV-12; CWE-78", a)
			return &f, nil
		}
	}
	return nil, nil
}

func probeTraversal(ctx context.Context, send sender, control *answer, where string) (*result.Finding, error) {
	if passwd.Match(control.body) {
		return nil, nil
	}
	for _, payload := range []string{
		"../../../../../../../../etc/passwd",
		"..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
		"....//....//....//....//....//....//....//....//etc/passwd",
		"/etc/passwd",
	} {
		a, err := send(ctx, payload)
		if err != nil {
			return nil, err
		}
		if passwd.Match(a.body) {
			f := finding("injection", "path-traversal", "high", "Path traversal", where,
				fmt.Sprintf("The value %q made the answer show the system's /etc/passwd.", payload), "OWASP WSTG-ATHZ-01; CWE-22", a)
			return &f, nil
		}
	}
	return nil, nil
}

func probeXSS(ctx context.Context, send sender, where string) (*result.Finding, error) {
	m := marker()
	for _, payload := range []string{
		fmt.Sprintf(`<script>alert("ct%d")</script>`, m),
		fmt.Sprintf(`"><svg onload=alert(ct%d)>`, m),
	} {
		a, err := send(ctx, payload)
		if err != nil {
			return nil, err
		}
		ct := strings.ToLower(a.header.Get("Content-Type"))
		// A JSON or plain-text answer is not rendered as HTML (with nosniff);
		// only an HTML answer that echoes the markup unescaped is a finding.
		html := ct == "" || strings.Contains(ct, "html")
		if html && strings.Contains(string(a.body), payload) {
			f := finding("injection", "reflected-xss", "high", "Reflected cross-site scripting", where,
				fmt.Sprintf("The value %q came back unescaped in an HTML answer (Content-Type %q).", payload, a.header.Get("Content-Type")),
				"OWASP WSTG-INPV-01; CWE-79", a)
			return &f, nil
		}
	}
	return nil, nil
}
