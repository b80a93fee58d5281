package step

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
)

// CookieJar is the cookie store of one case (or one journey iteration):
// net/http's RFC 6265 jar, so a Set-Cookie from one step is sent by the
// next step to the same site. It is made on the first cookie, so that a
// load whose target sets none pays nothing, and it can be forked: a case
// starts with the cookies its suite's setup was given, as it starts with
// the setup's captures.
type CookieJar struct {
	mu  sync.Mutex
	jar *cookiejar.Jar
	// log is every SetCookies call, in order, replayed into a fork.
	log []setCookies
}

type setCookies struct {
	u  *url.URL
	cs []*http.Cookie
}

// NewCookieJar returns an empty jar.
func NewCookieJar() *CookieJar { return &CookieJar{} }

// Fork returns a jar holding what j holds; the two change apart from then.
func (j *CookieJar) Fork() *CookieJar {
	f := &CookieJar{}
	if j == nil {
		return f
	}
	j.mu.Lock()
	log := append([]setCookies(nil), j.log...)
	j.mu.Unlock()
	for _, s := range log {
		f.SetCookies(s.u, s.cs)
	}
	return f
}

// SetCookies implements http.CookieJar.
func (j *CookieJar) SetCookies(u *url.URL, cs []*http.Cookie) {
	if len(cs) == 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.jar == nil {
		j.jar, _ = cookiejar.New(nil) // never fails without options
	}
	j.jar.SetCookies(u, cs)
	j.log = append(j.log, setCookies{u: u, cs: cs})
}

// Cookies implements http.CookieJar.
func (j *CookieJar) Cookies(u *url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.jar == nil {
		return nil
	}
	return j.jar.Cookies(u)
}

// without is the jar as one request sees it: the cookies its step names in
// cookies = {…} replace the jar's of the same name.
type without struct {
	*CookieJar
	names map[string]string
}

func (w without) Cookies(u *url.URL) []*http.Cookie {
	cs := w.CookieJar.Cookies(u)
	out := cs[:0:0]
	for _, c := range cs {
		if _, ok := w.names[c.Name]; !ok {
			out = append(out, c)
		}
	}
	return out
}
