package step

import (
	"crypto/tls"
	"net/http"
	"time"
)

// send is what client.Do(req) gives on a target's lean transport, by at,
// without the client's own costs per request when the answer is not a
// redirect: net/http's Client copies the request's headers (and makes a
// closure) for redirects that mostly never come. What the client does for
// one hop is done here the same way: the jar's cookies are sent and the
// answer's Set-Cookie kept. A redirect (301, 302, 303, 307, 308) goes on
// through the client itself, which is given this first answer in place of
// sending the request again (replay), so that every rule of net/http's
// redirects holds: Location, methods and bodies, headers kept or dropped,
// Referer, CheckRedirect, the jar. client builds that client (and the hops
// it records); it is called only then. A request the shortcut does not
// cover (user information in its URL, cookies of its own or from the jar)
// goes to the client from the start. TestLeanSendIsClientDo compares the
// two over redirects, cookies and errors.
func (t *leanTransport) send(req *http.Request, jar http.CookieJar, at time.Time, client func() (*http.Client, *[]hop)) (*http.Response, *[]hop, error) {
	if req.URL.User != nil || req.Header == nil || len(req.Header["Cookie"]) > 0 || (jar != nil && len(jar.Cookies(req.URL)) > 0) {
		c, hops := client()
		resp, err := c.Do(req)
		return resp, hops, err
	}
	resp, err := t.roundTrip(req, at)
	if err != nil {
		if tlsErr, ok := err.(tls.RecordHeaderError); ok && string(tlsErr.RecordHeader[:]) == "HTTP/" {
			err = http.ErrSchemeMismatch
		}
		return nil, nil, err
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		c, hops := client()
		cc := *c
		cc.Transport = &replay{resp: resp, rt: c.Transport}
		resp, err := cc.Do(req)
		return resp, hops, err
	}
	if jar != nil && len(resp.Header["Set-Cookie"]) > 0 {
		if rc := resp.Cookies(); len(rc) > 0 {
			jar.SetCookies(req.URL, rc)
		}
	}
	return resp, nil, nil
}

// replay answers its first request with resp, already received for it,
// and sends the others with rt.
type replay struct {
	resp *http.Response
	rt   http.RoundTripper
}

func (r *replay) RoundTrip(req *http.Request) (*http.Response, error) {
	if resp := r.resp; resp != nil {
		r.resp = nil
		return resp, nil
	}
	return r.rt.RoundTrip(req)
}
