package step

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// leanTransport sends plain HTTP/1.1 requests itself, on kept connections
// read and written by the goroutine that sends the request. net/http's
// transport gives every connection a reading and a writing goroutine and
// hands each request and response between them over channels: under load
// those handoffs (three goroutine switches per request), their contexts
// and their allocations cost more than the request itself (bench/README.md).
// Everything it does not do itself goes to base, unchanged: TLS (and HTTP/2,
// which only comes over TLS), proxies, the scope guard of security suites
// (one connection per request), a per-host connection limit, bodies of
// unknown length and 100-continue.
type leanTransport struct {
	base *http.Transport

	mu   sync.Mutex
	idle map[string][]*leanConn // by host:port, the most recently used last

	wmu     sync.Mutex
	watched map[context.Context]*ctxWatch // see watch
}

// leanMaxIdle and leanIdleTimeout are loadTransport's per-host idle
// connections and net/http's default idle timeout.
const (
	leanMaxIdle     = 256
	leanIdleTimeout = 90 * time.Second
)

func newLeanTransport(base *http.Transport) *leanTransport {
	return &leanTransport{base: base, idle: map[string][]*leanConn{}}
}

// leanConn is one kept connection.
type leanConn struct {
	t    *leanTransport
	key  string
	conn net.Conn
	br   *bufio.Reader
	tp   textproto.Reader
	bw   *bufio.Writer
	used time.Time // when it went idle
	// reused: it served a request before, so a failure before any byte
	// of the answer may be the server having closed it while idle.
	reused bool
}

// lean reports whether req can go on the lean path.
func (t *leanTransport) lean(req *http.Request) bool {
	b := t.base
	if req.URL.Scheme != "http" || b.DisableKeepAlives || b.MaxConnsPerHost > 0 || b.DialContext == nil ||
		req.Trailer != nil || len(req.TransferEncoding) > 0 {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody && (req.ContentLength <= 0 || req.GetBody == nil) {
		return false
	}
	if b.Proxy != nil {
		if p, err := b.Proxy(req); err != nil || p != nil {
			return false
		}
	}
	for k, vs := range req.Header {
		if !validHeaderName(k) || strings.EqualFold(k, "Expect") || strings.EqualFold(k, "Upgrade") {
			return false
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return false
			}
		}
	}
	return validHeaderValue(req.Host) && validHeaderValue(req.URL.Host)
}

// RoundTrip sends req on a kept connection (or base).
func (t *leanTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, time.Time{})
}

// Deadline is a transport that sends with t and ends each request (its
// answer's body included) by at, or d after it is sent when d > 0: the
// step's or the client's timeout as the connection's deadline, without a
// context and a timer per request (and, for http.Client's Timeout with a
// transport not its own, a goroutine per request).
func (t *leanTransport) Deadline(at time.Time, d time.Duration) http.RoundTripper {
	return &leanDeadline{t: t, at: at, d: d}
}

type leanDeadline struct {
	t  *leanTransport
	at time.Time
	d  time.Duration
}

func (l *leanDeadline) RoundTrip(req *http.Request) (*http.Response, error) {
	at := l.at
	if l.d > 0 {
		at = time.Now().Add(l.d)
	}
	return l.t.roundTrip(req, at)
}

// roundTrip sends req, ending it by at (zero: by its context only).
func (t *leanTransport) roundTrip(req *http.Request, at time.Time) (*http.Response, error) {
	ctx := req.Context()
	if dl, ok := ctx.Deadline(); ok && (at.IsZero() || dl.Before(at)) {
		at = dl
	}
	if !t.lean(req) {
		if at.IsZero() {
			return t.base.RoundTrip(req)
		}
		dctx, cancel := context.WithDeadline(ctx, at)
		resp, err := t.base.RoundTrip(req.WithContext(dctx))
		if err != nil {
			cancel()
			return nil, timeoutErr(ctx, at, err)
		}
		resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
		return resp, nil
	}
	for attempt := 0; ; attempt++ {
		c, err := t.conn(ctx, req.URL.Host, at)
		if err != nil {
			return nil, timeoutErr(ctx, at, err)
		}
		resp, retry, err := c.roundTrip(ctx, req, at)
		if err == nil {
			return resp, nil
		}
		c.conn.Close()
		if !retry || attempt > 0 || ctx.Err() != nil {
			return nil, timeoutErr(ctx, at, err)
		}
		if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			req.Body = body
		}
	}
}

// cancelBody ends a request's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// timeoutErr is the request's context error when it ended the request (as
// net/http reports it), context.DeadlineExceeded when the deadline at
// passed (the connection's deadline may pass a moment before a context's
// timer fires), else err.
func timeoutErr(ctx context.Context, at time.Time, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if !at.IsZero() && !time.Now().Before(at) && (errors.Is(err, context.DeadlineExceeded) || isTimeout(err)) {
		return context.DeadlineExceeded
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// conn takes an idle connection to host, or dials one.
func (t *leanTransport) conn(ctx context.Context, host string, at time.Time) (*leanConn, error) {
	key := host
	if _, _, err := net.SplitHostPort(host); err != nil {
		key = net.JoinHostPort(strings.Trim(host, "[]"), "80")
	}
	now := time.Now()
	t.mu.Lock()
	for list := t.idle[key]; len(list) > 0; list = t.idle[key] {
		c := list[len(list)-1]
		list[len(list)-1] = nil
		t.idle[key] = list[:len(list)-1]
		if now.Sub(c.used) < leanIdleTimeout {
			t.mu.Unlock()
			return c, nil
		}
		c.conn.Close()
	}
	t.mu.Unlock()
	if !at.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, at)
		defer cancel()
	}
	nc, err := t.base.DialContext(ctx, "tcp", key)
	if err != nil {
		return nil, err
	}
	c := &leanConn{t: t, key: key, conn: nc, br: bufio.NewReaderSize(nc, 4096), bw: bufio.NewWriterSize(nc, 4096)}
	c.tp.R = c.br
	return c, nil
}

// put keeps c for the next request to its host, or closes it.
func (t *leanTransport) put(c *leanConn) {
	c.used, c.reused = time.Now(), true
	t.mu.Lock()
	if list := t.idle[c.key]; len(list) < leanMaxIdle {
		t.idle[c.key] = append(list, c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	c.conn.Close()
}

// CloseIdleConnections closes the kept connections, its own and base's.
func (t *leanTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*leanConn{}
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.conn.Close()
		}
	}
	t.base.CloseIdleConnections()
}

// watch stops c's read or write when ctx ends, until the watching ends.
// It is context.AfterFunc, but one AfterFunc serves every request of a
// context (a load's requests share the run's): an AfterFunc per request
// was 4 % of the fast path's CPU. A transport watches at most maxWatched
// contexts at once this way; beyond them it is an AfterFunc per request.
func (t *leanTransport) watch(ctx context.Context, c *leanConn) watching {
	if ctx.Done() == nil {
		return watching{}
	}
	t.wmu.Lock()
	w := t.watched[ctx]
	if w == nil && len(t.watched) < maxWatched && ctx.Err() == nil {
		w = &ctxWatch{conns: map[*leanConn]struct{}{}}
		if t.watched == nil {
			t.watched = map[context.Context]*ctxWatch{}
		}
		t.watched[ctx] = w
		context.AfterFunc(ctx, func() {
			t.wmu.Lock()
			delete(t.watched, ctx)
			conns := w.conns
			w.conns = nil
			t.wmu.Unlock()
			for c := range conns {
				c.conn.SetDeadline(aLongTimeAgo)
			}
		})
	}
	if w == nil || w.conns == nil {
		t.wmu.Unlock()
		return watching{stop: context.AfterFunc(ctx, func() { c.conn.SetDeadline(aLongTimeAgo) })}
	}
	w.conns[c] = struct{}{}
	t.wmu.Unlock()
	return watching{t: t, w: w, c: c}
}

// maxWatched bounds the contexts a transport watches with one AfterFunc
// each (a context that never ends keeps its entry).
const maxWatched = 64

// ctxWatch is the connections with a request of one context in flight; nil
// conns: the context ended (and their deadlines were set in the past).
type ctxWatch struct {
	conns map[*leanConn]struct{}
}

// watching is one request's watch of its context.
type watching struct {
	t    *leanTransport
	w    *ctxWatch
	c    *leanConn
	stop func() bool
}

// end ends the watch; false: the context ended first, and the connection's
// deadline is in the past (as context.AfterFunc's stop reports).
func (wg watching) end() bool {
	switch {
	case wg.w != nil:
		wg.t.wmu.Lock()
		_, ok := wg.w.conns[wg.c]
		delete(wg.w.conns, wg.c)
		wg.t.wmu.Unlock()
		return ok
	case wg.stop != nil:
		return wg.stop()
	}
	return true
}

// aLongTimeAgo is a deadline in the past: it stops a read or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes req and reads the answer's head; retry says that the
// request may be sent again on another connection (this one, reused, failed
// before the answer's first byte: the server had closed it).
func (c *leanConn) roundTrip(ctx context.Context, req *http.Request, at time.Time) (*http.Response, bool, error) {
	if err := c.conn.SetDeadline(at); err != nil {
		return nil, c.reused, err
	}
	// A cancelled request (the run interrupted) stops its read or write.
	stop := c.t.watch(ctx, c)
	gzipped, err := c.write(req)
	if err != nil {
		stop.end()
		return nil, c.reused, err
	}
	resp, err := c.readResponse(req)
	if err == nil && ctx.Err() != nil {
		// Cancelled before the answer was read: the AfterFunc's deadline
		// may lose the race with an answer that came just after the
		// cancellation (a frozen target resumed by the interrupt's
		// clean-up), and net/http returns the cancellation then too.
		err = ctx.Err()
		c.conn.Close()
	}
	if err != nil {
		stop.end()
		retry := c.reused && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err)) && c.br.Buffered() == 0 && idempotent(req)
		return nil, retry, err
	}
	body := &leanBody{c: c, stop: stop, req: req, at: at}
	resp.Body = body
	if !bodyAllowed(req, resp.StatusCode) {
		if cl := resp.Header.Get("Content-Length"); req.Method == "HEAD" && cl != "" {
			if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
				resp.ContentLength = n // as net/http: the length a GET would have
			}
		}
		body.r, body.err = http.NoBody, io.EOF
		body.done(!resp.Close)
		return resp, false, nil
	}
	if err := body.frame(resp); err != nil {
		body.Close()
		return nil, false, err
	}
	if gzipped && strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		// As net/http's transport: it asked for gzip, so it decodes it and
		// drops the headers that described the encoded body.
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength, resp.Uncompressed = -1, true
		body.gzip = true
	}
	return resp, false, nil
}

func isConnReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && strings.Contains(ne.Err.Error(), "connection reset")
}

// idempotent is net/http's rule for sending a request again.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

// bodyAllowed: a HEAD request, and a 1xx, 204 or 304 answer, have no body.
func bodyAllowed(req *http.Request, code int) bool {
	return req.Method != "HEAD" && code >= 200 && code != 204 && code != 304
}

// write sends the request line, the headers (as net/http writes them) and
// the body; gzipped says it asked for gzip.
func (c *leanConn) write(req *http.Request) (gzipped bool, err error) {
	w := c.bw
	method := req.Method
	if method == "" {
		method = "GET"
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	w.WriteString(method)
	w.WriteByte(' ')
	if u := req.URL; u.Opaque == "" && u.RawQuery == "" && u.RawPath == "" && u.Path != "" && plainPath(u.Path) {
		w.WriteString(u.Path)
	} else {
		w.WriteString(u.RequestURI())
	}
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	if _, ok := req.Header["User-Agent"]; !ok {
		w.WriteString("User-Agent: Go-http-client/1.1\r\n")
	}
	n := req.ContentLength
	if req.Body == nil || req.Body == http.NoBody {
		n = 0
	}
	if n > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
		w.WriteString("Content-Length: ")
		var num [20]byte
		w.Write(strconv.AppendInt(num[:0], n, 10))
		w.WriteString("\r\n")
	}
	if req.Close {
		if _, ok := req.Header["Connection"]; !ok {
			w.WriteString("Connection: close\r\n")
		}
	}
	writeHeader(w, req.Header)
	_, ae := req.Header["Accept-Encoding"]
	_, rng := req.Header["Range"]
	if !c.t.base.DisableCompression && !ae && !rng && method != "HEAD" {
		w.WriteString("Accept-Encoding: gzip\r\n")
		gzipped = true
	}
	w.WriteString("\r\n")
	if n > 0 {
		if _, err := io.CopyN(w, req.Body, n); err != nil {
			return false, err
		}
		req.Body.Close()
	}
	return gzipped, w.Flush()
}

// plainPath: a path net/url would send as it is (no escaping needed).
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == '?' || c == '#' || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}' {
			return false
		}
	}
	return true
}

// writeHeader writes h as net/http does: keys sorted, one line per value.
func writeHeader(w *bufio.Writer, h http.Header) {
	var small [16]string
	keys := small[:0]
	for k := range h {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue // net/http writes these itself (or not at all)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			if k == "User-Agent" && v == "" {
				continue // net/http sends none then
			}
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(textproto.TrimString(v))
			w.WriteString("\r\n")
		}
	}
}

// readResponse reads the status line and the headers, skipping 1xx
// informational answers as net/http does.
func (c *leanConn) readResponse(req *http.Request) (*http.Response, error) {
	for {
		line, err := c.tp.ReadLine()
		if err != nil {
			if err == io.EOF && c.br.Buffered() == 0 {
				return nil, io.EOF
			}
			return nil, err
		}
		proto, status, ok := strings.Cut(line, " ")
		if !ok || len(status) < 3 {
			return nil, fmt.Errorf("malformed HTTP response %q", line)
		}
		major, minor, ok := http.ParseHTTPVersion(proto)
		if !ok {
			return nil, fmt.Errorf("malformed HTTP version %q", proto)
		}
		code, err := strconv.Atoi(status[:3])
		if err != nil || code < 100 || (len(status) > 3 && status[3] != ' ') {
			return nil, fmt.Errorf("malformed HTTP status code %q", status)
		}
		hdr, err := c.tp.ReadMIMEHeader()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if code >= 100 && code < 200 && code != 101 {
			continue
		}
		if code == 101 {
			return nil, errors.New("the server switched protocols (101), which a load request does not ask for")
		}
		resp := &http.Response{Status: status, StatusCode: code, Proto: proto, ProtoMajor: major, ProtoMinor: minor,
			Header: http.Header(hdr), Request: req, ContentLength: -1}
		resp.Close = req.Close || shouldClose(major, minor, resp.Header)
		return resp, nil
	}
}

// shouldClose is net/http's rule: HTTP/1.0 without keep-alive, or
// Connection: close.
func shouldClose(major, minor int, h http.Header) bool {
	conn := h["Connection"]
	if major < 1 || (major == 1 && minor == 0) {
		for _, v := range conn {
			if strings.Contains(strings.ToLower(v), "keep-alive") {
				return false
			}
		}
		return true
	}
	for _, v := range conn {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "close") {
				return true
			}
		}
	}
	return false
}

// leanBody is an answer's body; read to its end, its connection goes back
// to the idle ones.
type leanBody struct {
	c      *leanConn
	stop   watching
	req    *http.Request
	at     time.Time // the request's deadline
	r      io.Reader
	lr     io.LimitedReader
	keep   bool // the framing allows keeping the connection
	gzip   bool
	zr     *gzip.Reader
	chunk  bool
	err    error
	closed bool
	ended  bool
}

// frame sets how the body is delimited: chunked, Content-Length, or until
// the server closes.
func (b *leanBody) frame(resp *http.Response) error {
	h := resp.Header
	if te := h["Transfer-Encoding"]; len(te) > 0 {
		if len(te) != 1 || !strings.EqualFold(strings.TrimSpace(te[0]), "chunked") {
			return fmt.Errorf("unsupported transfer encoding: %q", te)
		}
		delete(h, "Transfer-Encoding")
		delete(h, "Content-Length")
		resp.TransferEncoding = []string{"chunked"}
		b.r, b.chunk, b.keep = httputil.NewChunkedReader(b.c.br), true, !resp.Close
		return nil
	}
	if cl := h["Content-Length"]; len(cl) > 0 {
		first := strings.TrimSpace(cl[0])
		for _, v := range cl[1:] {
			if strings.TrimSpace(v) != first {
				return fmt.Errorf("http: message cannot contain multiple Content-Length headers; got %q", cl)
			}
		}
		n, err := strconv.ParseInt(first, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("bad Content-Length %q", first)
		}
		resp.ContentLength = n
		b.lr = io.LimitedReader{R: b.c.br, N: n}
		b.r, b.keep = &b.lr, !resp.Close
		if n == 0 {
			b.done(b.keep)
		}
		return nil
	}
	resp.Close = true
	b.r = b.c.br
	return nil
}

func (b *leanBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.closed {
		return 0, errors.New("http: read on closed response body")
	}
	r := b.r
	if b.gzip {
		if b.zr == nil {
			zr, err := gzip.NewReader(b.r)
			if err != nil {
				b.fail(err)
				return 0, err
			}
			b.zr = zr
		}
		r = b.zr
	}
	n, err := r.Read(p)
	if err == io.EOF {
		if b.gzip {
			// The gzip stream ended; its framing (the last chunk, or the
			// rest of the Content-Length) may not have been read yet.
			rest, derr := io.Copy(io.Discard, io.LimitReader(b.r, 4096))
			if derr != nil || rest > 0 {
				b.keep = false // not the end the framing said: do not reuse
			}
		}
		if b.chunk && b.keep {
			if terr := b.trailer(); terr != nil {
				b.fail(terr)
				return n, terr
			}
		}
		if !b.lenOK() {
			if !b.gzip {
				err = io.ErrUnexpectedEOF
				b.fail(err)
				return n, err
			}
			b.keep = false
		}
		b.err = io.EOF
		b.done(b.keep)
		return n, io.EOF
	}
	if err != nil {
		b.fail(timeoutErr(b.req.Context(), b.at, err))
		return n, b.err
	}
	if !b.gzip && !b.chunk && b.lr.R != nil && b.lr.N == 0 {
		// The whole body is read: keep the connection now, without
		// waiting for a read that returns io.EOF.
		b.err = io.EOF
		b.done(b.keep)
	}
	return n, nil
}

// lenOK: a body with a Content-Length ended at that length.
func (b *leanBody) lenOK() bool { return b.lr.R == nil || b.lr.N == 0 }

// trailer reads the trailer after the last chunk, up to its empty line.
func (b *leanBody) trailer() error {
	for {
		line, err := b.c.tp.ReadLine()
		if err != nil {
			return err
		}
		if line == "" {
			return nil
		}
	}
}

func (b *leanBody) fail(err error) {
	b.err = err
	b.done(false)
}

// done gives the connection back (keep) or closes it, once.
func (b *leanBody) done(keep bool) {
	if b.ended {
		return
	}
	b.ended = true
	if !b.stop.end() {
		keep = false // cancellation has set the deadline in the past
	}
	if keep {
		b.c.t.put(b.c)
	} else {
		b.c.conn.Close()
	}
}

// Close gives the connection back when the body was read to its end (or a
// small rest of it can be), else closes it.
func (b *leanBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if b.ended {
		return nil
	}
	if b.keep && !b.gzip && !b.chunk && b.lr.N <= 256<<10 {
		if _, err := io.Copy(io.Discard, &b.lr); err == nil && b.lr.N == 0 {
			b.done(true)
			return nil
		}
	}
	b.done(false)
	return nil
}

// validHeaderName: a token (RFC 9110).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue: no control characters but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
