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

// checkExposure sweeps the declared hosts and ports (bounded, through the
// scope guard) and asks for debug and admin paths.
func checkExposure(ctx context.Context, ss *session, c *Check) ([]result.Finding, error) {
	var out []result.Finding
	var targetHost string
	var targetPort int
	if ss.base != "" {
		u, err := url.Parse(ss.base)
		if err == nil {
			targetHost = u.Hostname()
			targetPort, _ = strconv.Atoi(u.Port())
			if targetPort == 0 {
				targetPort = map[string]int{"https": 443}[u.Scheme]
				if targetPort == 0 {
					targetPort = 80
				}
			}
		}
	}
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
	for _, h := range hosts {
		open, err := sweep(ctx, ss.guard, h, ports)
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
	if ss.base == "" || len(c.Paths) == 0 {
		return out, nil
	}
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
