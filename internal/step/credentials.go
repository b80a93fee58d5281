package step

import (
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
)

// A target hands out credentials in headers (Set-Cookie's cookie values)
// and the steps send them (Authorization, Cookie); a target that echoes
// one back ("your session is …") leaks it in the body, in assert output
// and in excerpts. The values of those headers join the run's redaction
// set: the cookie value (not its attributes), the credential after an
// Authorization scheme, and the password of Basic credentials.

// minLearned is the shortest value learned from a header: shorter cookie
// values (a locale "en", a flag "1") are not credentials and would redact
// unrelated text.
const minLearned = 8

// maxLearned bounds the run's learned values (one session cookie per
// journey under load would otherwise grow the set without end).
const maxLearned = 256

// learnedSecrets are the credential values seen in the run's headers; one
// set is shared by the copies of an Env.
type learnedSecrets struct {
	mu     sync.RWMutex
	seen   map[string]bool
	values []string
}

func (l *learnedSecrets) add(vs []string) {
	if l == nil || len(vs) == 0 {
		return
	}
	l.mu.RLock()
	fresh := false
	for _, v := range vs {
		if !l.seen[v] {
			fresh = true
			break
		}
	}
	full := len(l.values) >= maxLearned
	l.mu.RUnlock()
	if !fresh || full {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	for _, v := range vs {
		if !l.seen[v] && len(l.values) < maxLearned {
			l.seen[v] = true
			l.values = append(l.values, v)
		}
	}
}

func (l *learnedSecrets) list() []string {
	if l == nil {
		return nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return append([]string(nil), l.values...)
}

// credentialValues returns the credentials in the request's and the
// response's headers.
func credentialValues(req, resp http.Header) []string {
	var out []string
	keep := func(v string) {
		if v = strings.TrimSpace(v); len(v) >= minLearned {
			out = append(out, v)
		}
	}
	for _, c := range cookiesOf(resp) {
		keep(c)
	}
	for _, name := range []string{"Cookie"} {
		for _, line := range req.Values(name) {
			for _, part := range strings.Split(line, ";") {
				if _, v, ok := strings.Cut(part, "="); ok {
					keep(strings.Trim(strings.TrimSpace(v), `"`))
				}
			}
		}
	}
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		for _, v := range req.Values(name) {
			scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
			if !ok {
				keep(v)
				continue
			}
			keep(cred)
			if strings.EqualFold(scheme, "Basic") {
				if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred)); err == nil {
					if _, pw, ok := strings.Cut(string(b), ":"); ok {
						keep(pw)
					}
				}
			}
		}
	}
	return out
}

// cookiesOf returns the values of the cookies a response sets.
func cookiesOf(h http.Header) []string {
	lines := h.Values("Set-Cookie")
	if len(lines) == 0 {
		return nil
	}
	var out []string
	for _, line := range lines {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			// Not a cookie Go can read: the value up to its attributes.
			first, _, _ := strings.Cut(line, ";")
			if _, v, ok := strings.Cut(first, "="); ok {
				out = append(out, strings.Trim(strings.TrimSpace(v), `"`))
			}
			continue
		}
		out = append(out, c.Value)
	}
	return out
}

// withCredentials returns red with the credentials of the exchange's
// headers added, built on first use. Outside a load the values also join
// the run's set, so that a later step that the target answers with the
// session id redacts it; under load (Lean) a passed request pays nothing
// beyond looking for a Set-Cookie header.
func (e *Env) withCredentials(red func() *Redactor, x *httpExchange) func() *Redactor {
	// After redirects the request that was answered is another, with the
	// cookies the jar added on the way (a hop's Set-Cookie).
	final := x.req
	if x.resp.Request != nil {
		final = x.resp.Request
	}
	hasCred := len(x.resp.Header["Set-Cookie"]) > 0 || len(x.req.Header["Cookie"]) > 0 ||
		len(x.req.Header["Authorization"]) > 0 || len(x.req.Header["Proxy-Authorization"]) > 0 ||
		(final != x.req && len(final.Header["Cookie"]) > 0) || len(x.hops) > 0
	if !hasCred {
		return red
	}
	values := func() []string {
		vs := credentialValues(x.req.Header, x.resp.Header)
		if final != x.req {
			vs = append(vs, credentialValues(final.Header, nil)...)
		}
		for _, hp := range x.hops {
			vs = append(vs, credentialValues(http.Header{}, hp.header)...)
		}
		return vs
	}
	if !e.Lean {
		e.learned.add(values())
	}
	var r *Redactor
	return func() *Redactor {
		if r == nil {
			r = red().With(values()...)
		}
		return r
	}
}

// withPassword returns red with the password of the request's basic_auth
// added, whatever its length (it is the user's, not one guessed from a
// header); outside a load it joins the run's set, so that a later step
// that echoes it redacts it too.
func (e *Env) withPassword(red func() *Redactor, req *http.Request) func() *Redactor {
	_, pw, ok := req.BasicAuth()
	if !ok || pw == "" {
		return red
	}
	if !e.Lean {
		e.learned.add([]string{pw})
	}
	var r *Redactor
	return func() *Redactor {
		if r == nil {
			r = red().With(pw)
		}
		return r
	}
}
