package demobank

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The secure bank defends itself the way a bank's edge does, so that
// drills have something to detect: it throttles password guessing per
// user, notices credential stuffing from one address, notices scanners
// asking for debug paths, blocks injection attempts in query strings, and
// reports each of these as a log line ("event") and, when one is
// registered, as a call to an alert webhook. The insecure bank does none
// of this.

// scannerPaths are what vulnerability scanners ask for first.
var scannerPaths = []string{"/.git", "/.env", "/debug/pprof", "/actuator", "/server-status", "/phpinfo.php", "/wp-admin", "/admin"}

// injection matches the usual SQL, script, traversal and shell payloads.
var injection = regexp.MustCompile(`(?i)('|--|<\s*script|<\s*svg|\.\./|\bunion\s+select\b|pg_sleep|\bsleep\s*\(|[;|&` + "`" + `]\s*(cat|expr|sleep|id|ls)\b|\$\()`)

// stuffingThreshold is how many failed logins from one address within a
// minute look like credential stuffing.
const stuffingThreshold = 5

// alert writes an event line to the log and calls the registered webhook.
func (b *Bank) alert(event, remote, detail string) {
	now := time.Now().UTC()
	if b.opts.Log != nil {
		b.logLine(map[string]any{"time": now.Format(time.RFC3339Nano), "event": event, "remote": remote, "detail": detail})
	}
	b.tokMu.Lock()
	hook := b.webhook
	b.tokMu.Unlock()
	if hook == "" {
		return
	}
	body, _ := json.Marshal(map[string]string{"time": now.Format(time.RFC3339Nano), "event": event, "remote": remote, "detail": detail, "source": "demobank"})
	b.alerts.Add(1)
	go func() {
		defer b.alerts.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		if resp, err := webhookClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
}

// webhookClient posts alerts: the webhook was checked to be on this
// machine, and a redirect could send the alert anywhere, so none is followed.
var webhookClient = &http.Client{Timeout: 2 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// screen runs before routing; it reports whether the request was answered
// (blocked).
func (b *Bank) screen(w http.ResponseWriter, r *http.Request) bool {
	if b.opts.Insecure {
		return false
	}
	for _, p := range scannerPaths {
		if strings.HasPrefix(r.URL.Path, p) {
			b.alert("scan_detected", r.RemoteAddr, r.URL.Path)
			return false
		}
	}
	if raw, err := url.QueryUnescape(r.URL.RawQuery); err == nil && injection.MatchString(raw) {
		b.alert("injection_blocked", r.RemoteAddr, r.URL.Path+"?"+raw)
		fail(w, http.StatusForbidden, "the request was blocked")
		return true
	}
	return false
}

// noteFailedLogin counts failed logins by address and raises a credential
// stuffing alert for every stuffingThreshold failures from one address
// within a minute.
func (b *Bank) noteFailedLogin(r *http.Request, now time.Time) {
	if b.opts.Insecure {
		return
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	b.tokMu.Lock()
	recent := b.byAddr[host][:0]
	for _, t := range b.byAddr[host] {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	recent = append(recent, now)
	b.byAddr[host] = recent
	b.sinceAlert[host]++
	raise := len(recent) >= stuffingThreshold && b.sinceAlert[host] >= stuffingThreshold
	if raise {
		b.sinceAlert[host] = 0
	}
	b.tokMu.Unlock()
	if raise {
		b.alert("credential_stuffing_suspected", r.RemoteAddr, fmt.Sprintf("%d failed logins from %s within a minute", len(recent), host))
	}
}

// setWebhook registers where alerts go; only loopback http URLs are
// accepted, so the demo never calls out of the machine.
func (b *Bank) setWebhook(w http.ResponseWriter, r *http.Request, u string) {
	var req struct{ URL string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<12)).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "the body must be JSON: {\"url\": \"http://127.0.0.1:9000/alerts\"}")
		return
	}
	pu, err := url.Parse(req.URL)
	if err != nil || pu.Scheme != "http" {
		fail(w, http.StatusBadRequest, "the webhook must be an http URL")
		return
	}
	ip := net.ParseIP(pu.Hostname())
	if pu.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fail(w, http.StatusBadRequest, "the webhook must be on this machine (a loopback address)")
		return
	}
	b.tokMu.Lock()
	b.webhook = req.URL
	b.tokMu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"webhook": req.URL})
}

var branches = map[string][]string{
	"shanghai": {"Lujiazui", "Jing'an"},
	"beijing":  {"Chaoyang", "Haidian"},
}

// findBranches is a public search. The secure bank answers JSON; the
// insecure one renders the search term into HTML without escaping and,
// like a query built by string concatenation, leaks the database error a
// quote causes.
func (b *Bank) findBranches(w http.ResponseWriter, r *http.Request) {
	city := r.URL.Query().Get("city")
	found := branches[strings.ToLower(city)]
	if !b.opts.Insecure {
		writeJSON(w, http.StatusOK, map[string]any{"city": city, "branches": found})
		return
	}
	if strings.Count(city, "'")%2 == 1 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "ERROR: unterminated quoted string at or near \"'%s\" (SQLSTATE 42601)\n", strings.SplitN(city, "'", 2)[1])
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<html><body><h1>Branches in %s</h1><ul>", city)
	for _, f := range found {
		fmt.Fprintf(w, "<li>%s</li>", html.EscapeString(f))
	}
	fmt.Fprint(w, "</ul></body></html>")
}

// cors reflects any origin with credentials: the insecure bank's planted
// CORS weakness.
func (b *Bank) cors(w http.ResponseWriter, r *http.Request) bool {
	if !b.opts.Insecure {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return true
		}
	}
	return false
}
