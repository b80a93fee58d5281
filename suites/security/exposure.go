package security

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/step"
)

// signatures are what a debug or admin endpoint's answer contains; they
// are required when the target answers 200 to any path (a catch-all), so a
// single-page app's index is not taken for an exposed .git.
var signatures = map[string]string{
	"/debug/pprof/": "profile", "/debug/vars": "memstats", "/actuator": "_links", "/actuator/env": "propertySources",
	"/.git/HEAD": "ref:", "/.git/config": "[core]", "/.env": "=", "/metrics": "# TYPE", "/server-status": "Server uptime",
	"/phpinfo.php": "PHP Version",
}

// exposureRule says how serious an exposed path is.
func exposureRule(p string) (rule, severity, title, ref string) {
	switch {
	case strings.HasPrefix(p, "/.git"):
		return "source-exposed", "high", "Source repository exposed", "OWASP WSTG-CONF-04; CWE-527"
	case strings.HasPrefix(p, "/.env"):
		return "secrets-file-exposed", "critical", "Environment file exposed", "OWASP WSTG-CONF-04; CWE-538"
	case strings.HasPrefix(p, "/admin"):
		return "admin-exposed", "high", "Administration endpoint reachable without credentials", "OWASP API5:2023; CWE-306"
	case strings.HasPrefix(p, "/metrics"):
		return "metrics-exposed", "medium", "Metrics endpoint exposed", "OWASP API8:2023; CWE-200"
	}
	return "debug-exposed", "high", "Debug endpoint exposed", "OWASP API8:2023; CWE-215"
}

// exposureCheck sweeps the declared hosts and ports (bounded, through the
// scope guard) and asks for debug and admin paths.
type exposureCheck struct {
	Hosts      []string
	Ports      []int
	AllowPorts []int
	// portsSet: ports = [] sweeps nothing, while no ports sweeps the
	// target's port.
	portsSet          bool
	Paths, AllowPaths []string
}

var exposureSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "hosts"}, {Name: "ports"}, {Name: "allow_ports"}, {Name: "paths"}, {Name: "allow_paths"},
}}

// defaultExposurePaths are debug and admin endpoints that should not answer
// on a production system.
var defaultExposurePaths = []string{
	"/debug/pprof/", "/debug/vars", "/actuator", "/actuator/env", "/.git/HEAD", "/.git/config", "/.env",
	"/metrics", "/admin", "/admin/users", "/server-status", "/phpinfo.php",
}

func init() {
	register(checkKind{name: "exposure", rank: 50, schema: exposureSchema, untargeted: true,
		defaults: func() settings { return &exposureCheck{Paths: defaultExposurePaths} }})
}

func (c *exposureCheck) decode(_ *hcl.Block, content *hcl.BodyContent, dc *config.DecodeContext) hcl.Diagnostics {
	return attrs{
		"hosts": stringsAttr(dc, &c.Hosts), "paths": stringsAttr(dc, &c.Paths), "allow_paths": stringsAttr(dc, &c.AllowPaths),
		"allow_ports": intsWithin(dc, &c.AllowPorts, 1, 65535, "a port"),
		"ports": func(a *hcl.Attribute) (d hcl.Diagnostics) {
			c.Ports, d = decodePorts(dc, a)
			c.portsSet = true
			return d
		},
	}.decode(content)
}

func (c *exposureCheck) run(ctx context.Context, ss *session) ([]result.Finding, error) {
	targetHost, targetPort := targetAddr(ss.base)
	hosts := c.Hosts
	if len(hosts) == 0 && targetHost != "" {
		hosts = []string{targetHost}
	}
	ports := c.Ports
	if !c.portsSet && targetPort != 0 {
		ports = []int{targetPort}
	}
	allow := c.AllowPorts
	if allow == nil && targetPort != 0 {
		allow = []int{targetPort}
	}
	out, err := openPorts(ctx, ss.guard, hosts, ports, allow)
	if err != nil || ss.base == "" || len(c.Paths) == 0 {
		return out, err
	}
	exposed, err := c.exposedPaths(ctx, ss)
	return append(out, exposed...), err
}

// targetAddr is the host and port of the target's URL (the scheme's port
// when it has none).
func targetAddr(base string) (string, int) {
	if base == "" {
		return "", 0
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", 0
	}
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		port = map[string]int{"https": 443}[u.Scheme]
		if port == 0 {
			port = 80
		}
	}
	return u.Hostname(), port
}

// openPorts sweeps each host and reports the open ports not allowed.
func openPorts(ctx context.Context, g *Guard, hosts []string, ports, allow []int) ([]result.Finding, error) {
	var out []result.Finding
	for _, h := range hosts {
		open, err := sweep(ctx, g, h, ports)
		if err != nil {
			return out, err
		}
		for _, p := range open {
			if contains(allow, p) {
				continue
			}
			where := net.JoinHostPort(h, strconv.Itoa(p))
			out = append(out, result.Finding{ID: "exposure/unexpected-port", Check: "exposure", Severity: "medium",
				Title: "Port open that is not in the allowed set", Where: where,
				Detail:    fmt.Sprintf("TCP %s accepted a connection; the allowed ports are %v.", where, allow),
				Reference: "NIST SP 800-115 §4.3; CIS Control 4.8",
				Evidence:  &result.Exchange{Protocol: "tcp", URL: where}})
		}
	}
	return out, nil
}

// exposedPaths asks for each path not allowed, against a baseline: a path
// no server has, whose 2xx answer makes the target a catch-all.
func (c *exposureCheck) exposedPaths(ctx context.Context, ss *session) ([]result.Finding, error) {
	var out []result.Finding
	var rnd [6]byte
	rand.Read(rnd[:])
	baseline, err := ss.get(ctx, "/cloudtest-"+hex.EncodeToString(rnd[:]), nil)
	if err != nil {
		return out, err
	}
	catchAll := ok2xx(baseline.status)
	for _, p := range c.Paths {
		if allowed(c.AllowPaths, p) {
			continue
		}
		a, err := ss.get(ctx, p, nil)
		if err != nil {
			return out, err
		}
		if !ok2xx(a.status) {
			continue
		}
		sig, known := signatures[p]
		if catchAll && (!known || bytes.Equal(a.body, baseline.body) || !strings.Contains(string(a.body), sig)) {
			continue
		}
		rule, sev, title, ref := exposureRule(p)
		out = append(out, finding("exposure", rule, sev, title, p,
			fmt.Sprintf("GET %s without credentials answered %d.", p, a.status), ref, a))
	}
	return out, nil
}

// sweepWorkers bounds the connections a sweep has open at once.
const sweepWorkers = 8

// sweep returns the ports of host that accept a TCP connection.
func sweep(ctx context.Context, g *Guard, host string, ports []int) ([]int, error) {
	if len(ports) > maxPorts {
		return nil, fmt.Errorf("a sweep is bounded to %d ports per host; %d were asked", maxPorts, len(ports))
	}
	// Refuse an out-of-scope host before the first connection.
	if _, err := g.Resolve(ctx, host); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var open []int
	var firstErr error
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range sweepWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				// The half second bounds the connection, not the guard's
				// wait for its rate limit: a port is closed when it does not
				// answer, not when the rate is slow.
				dctx := step.WithDialInfo(ctx, &step.DialInfo{Timeout: 500 * time.Millisecond})
				conn, err := g.Dial(dctx, "tcp", net.JoinHostPort(host, strconv.Itoa(p)))
				mu.Lock()
				if err == nil {
					conn.Close()
					open = append(open, p)
				} else if isGuardErr(err) && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for _, p := range ports {
		if ctx.Err() != nil {
			break
		}
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	slices.Sort(open)
	return open, firstErr
}

func isGuardErr(err error) bool {
	return errors.Is(err, ErrOutOfScope) || errors.Is(err, ErrBudget)
}

// maxPorts bounds a sweep per host.
const maxPorts = 1024

// decodePorts reads a list of ports and ranges: [8080, "9000-9010"].
func decodePorts(dc *config.DecodeContext, a *hcl.Attribute) ([]int, hcl.Diagnostics) {
	v, diags := dc.Value(a)
	if diags.HasErrors() {
		return nil, diags
	}
	bad := func(what string) hcl.Diagnostics {
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ports",
			Detail:  fmt.Sprintf("The attribute \"ports\" must list ports and ranges, such as [8080, \"9000-9010\"]; %s.", what),
			Subject: a.Expr.Range().Ptr()})
	}
	if !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return nil, bad("found " + v.Type().FriendlyName())
	}
	var out []int
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		switch {
		case e.Type() == cty.Number:
			bf := e.AsBigFloat()
			n, _ := bf.Int64()
			if !bf.IsInt() || n < 1 || n > 65535 {
				return nil, bad(fmt.Sprintf("port %s is not a whole number between 1 and 65535", bf.Text('g', -1)))
			}
			out = append(out, int(n))
		case e.Type() == cty.String:
			lo, hi, ok := strings.Cut(e.AsString(), "-")
			l, err1 := strconv.Atoi(strings.TrimSpace(lo))
			h, err2 := strconv.Atoi(strings.TrimSpace(hi))
			if !ok || err1 != nil || err2 != nil || l > h {
				return nil, bad(fmt.Sprintf("found %q", e.AsString()))
			}
			// Checked before the range is expanded: "1-2000000000" must
			// not take the memory of two billion ports first.
			if l < 1 || h > 65535 {
				return nil, bad(fmt.Sprintf("the range %q is not within 1-65535", e.AsString()))
			}
			if len(out)+(h-l+1) > maxPorts {
				return nil, bad(fmt.Sprintf("a sweep is bounded to %d ports per host; the list asks for more", maxPorts))
			}
			for p := l; p <= h; p++ {
				out = append(out, p)
			}
		default:
			return nil, bad("found " + e.Type().FriendlyName())
		}
		if len(out) > maxPorts {
			return nil, bad(fmt.Sprintf("a sweep is bounded to %d ports per host", maxPorts))
		}
	}
	for _, p := range out {
		if p < 1 || p > 65535 {
			return nil, bad(fmt.Sprintf("port %d is not between 1 and 65535", p))
		}
	}
	return out, diags
}
