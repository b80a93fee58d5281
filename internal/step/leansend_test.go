package step

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The lean transport's send must give what http.Client.Do gives with the
// same jar and redirect policy: the same requests reaching the server
// (methods, bodies, cookies, Authorization and Referer at every hop), the
// same final answer, the same cookies kept, the same errors. Each case runs
// both ways against one real server, with and without following redirects,
// with and without a jar.
func TestLeanSendIsClientDo(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s host=%s body=%q cookie=%q auth=%q referer=%q", r.Method, r.URL.RequestURI(), r.Host,
			body, r.Header.Values("Cookie"), r.Header.Get("Authorization"), r.Header.Get("Referer")))
		mu.Unlock()
		switch r.URL.Path {
		case "/ok":
			http.SetCookie(w, &http.Cookie{Name: "a", Value: "1", Path: "/"})
			w.Write([]byte("ok"))
		case "/r301":
			http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
		case "/r302":
			http.Redirect(w, r, "/echo", http.StatusFound)
		case "/r307":
			http.Redirect(w, r, "/echo?from=307", http.StatusTemporaryRedirect)
		case "/r303cookie":
			http.SetCookie(w, &http.Cookie{Name: "b", Value: "2", Path: "/"})
			http.Redirect(w, r, "/ok", http.StatusSeeOther)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/noloc":
			w.WriteHeader(http.StatusFound)
		case "/cross":
			// The same server under another host name: Authorization is
			// dropped there.
			http.Redirect(w, r, "http://localhost:"+strings.Split(r.Host, ":")[1]+"/echo", http.StatusFound)
		default:
			fmt.Fprintf(w, "%s %s", r.Method, body)
		}
	}))
	defer srv.Close()
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String() + "/"
	dead.Close()

	type req struct {
		method, url, body string
		header            http.Header
	}
	cases := []req{
		{method: "GET", url: srv.URL + "/ok"},
		{method: "GET", url: srv.URL + "/r301"},
		{method: "POST", url: srv.URL + "/r302", body: "p"},
		{method: "POST", url: srv.URL + "/r307", body: "kept"},
		{method: "GET", url: srv.URL + "/r303cookie"},
		{method: "GET", url: srv.URL + "/loop"},
		{method: "GET", url: srv.URL + "/noloc"},
		{method: "GET", url: srv.URL + "/cross", header: http.Header{"Authorization": {"Bearer t"}}},
		{method: "GET", url: srv.URL + "/r301", header: http.Header{"Cookie": {"own=1"}}},
		{method: "GET", url: strings.Replace(srv.URL, "http://", "http://u:pw@", 1) + "/ok"},
		{method: "GET", url: deadURL},
	}
	lt := newLeanTransport(loadTransport())
	defer lt.CloseIdleConnections()
	type outcome struct {
		status        int
		finalURL, err string
		body          string
		seen, cookies []string
	}
	run := func(c req, follow, withJar, viaSend bool) outcome {
		mu.Lock()
		seen = nil
		mu.Unlock()
		var r io.Reader
		if c.body != "" {
			r = strings.NewReader(c.body)
		}
		hreq, err := http.NewRequest(c.method, c.url, r)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range c.header {
			hreq.Header[k] = v
		}
		var jar *CookieJar
		var cj http.CookieJar
		if withJar {
			jar = NewCookieJar()
			cj = jar
		}
		at := time.Now().Add(5 * time.Second)
		client := func() (*http.Client, *[]hop) {
			hc := &http.Client{Transport: lt.Deadline(at, 0), Jar: cj}
			if !follow {
				hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			}
			return hc, nil
		}
		var resp *http.Response
		if viaSend {
			resp, _, err = lt.send(hreq, cj, at, client)
		} else {
			c, _ := client()
			resp, err = c.Do(hreq)
		}
		var o outcome
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) && ue.Err != nil {
				err = ue.Err
			}
			o.err = err.Error()
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			o.status, o.finalURL, o.body = resp.StatusCode, resp.Request.URL.String(), string(b)
		}
		if jar != nil {
			u, _ := url.Parse(srv.URL)
			for _, ck := range jar.Cookies(u) {
				o.cookies = append(o.cookies, ck.String())
			}
			sort.Strings(o.cookies)
		}
		mu.Lock()
		o.seen = append([]string(nil), seen...)
		mu.Unlock()
		return o
	}
	for _, c := range cases {
		for _, follow := range []bool{true, false} {
			for _, withJar := range []bool{true, false} {
				want := run(c, follow, withJar, false)
				got := run(c, follow, withJar, true)
				if fmt.Sprint(want) != fmt.Sprint(got) {
					t.Errorf("%s %s (follow %v, jar %v):\nclient.Do: %+v\nsend:      %+v", c.method, c.url, follow, withJar, want, got)
				}
			}
		}
	}
}
