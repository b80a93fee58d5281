package step

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an httptest server that counts the connections it accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func leanClient(t *testing.T) (*http.Client, *leanTransport) {
	t.Helper()
	lt := newLeanTransport(loadTransport())
	t.Cleanup(lt.CloseIdleConnections)
	return &http.Client{Transport: lt}, lt
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestLeanKeepsConnectionsAndFramesBodies(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			w.Write([]byte("part1-"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part2"))
			w.Header().Set("X-Sum", "42")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Method", r.Method)
			w.Write(append([]byte(r.Header.Get("User-Agent")+" "+r.Host+" "), b...))
		default:
			w.Write([]byte("ok " + r.URL.RequestURI()))
		}
	})
	c, _ := leanClient(t)
	for i := 0; i < 20; i++ {
		if _, body := get(t, c, srv.URL+"/a?x=1&y=%20"); body != "ok /a?x=1&y=%20" {
			t.Fatalf("body %q", body)
		}
	}
	resp, body := get(t, c, srv.URL+"/chunked")
	if body != "part1-part2" || resp.TransferEncoding[0] != "chunked" || resp.ContentLength != -1 {
		t.Fatalf("chunked: %q %v %d", body, resp.TransferEncoding, resp.ContentLength)
	}
	if resp, body = get(t, c, srv.URL+"/empty"); resp.StatusCode != 204 || body != "" {
		t.Fatalf("204: %d %q", resp.StatusCode, body)
	}
	resp, err := c.Post(srv.URL+"/echo", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "Go-http-client/1.1 " + strings.TrimPrefix(srv.URL, "http://") + " hello"; string(b) != want || resp.Header.Get("X-Method") != "POST" {
		t.Fatalf("POST echoed %q (%s), want %q", b, resp.Header.Get("X-Method"), want)
	}
	req, _ := http.NewRequest("HEAD", srv.URL+"/", nil)
	if resp, err = c.Do(req); err != nil || resp.StatusCode != 200 || resp.ContentLength != int64(len("ok /")) {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, body = get(t, c, srv.URL+"/last"); body != "ok /last" {
		t.Fatalf("after HEAD: %q", body)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for sequential requests, want 1 kept", n)
	}
}

func TestLeanDecodesTheGzipItAskedFor(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			w.Write([]byte("plain"))
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write([]byte("unzipped"))
		if r.URL.Path == "/chunked" {
			zw.Flush()
			w.(http.Flusher).Flush() // the answer goes out chunked
		}
		zw.Close()
	})
	c, _ := leanClient(t)
	for i := 0; i < 6; i++ {
		path := []string{"/", "/chunked"}[i%2]
		resp, body := get(t, c, srv.URL+path)
		if body != "unzipped" || !resp.Uncompressed || resp.Header.Get("Content-Encoding") != "" || (path == "/chunked") != (len(resp.TransferEncoding) > 0) {
			t.Fatalf("%s: %q uncompressed=%v %v %v", path, body, resp.Uncompressed, resp.Header, resp.TransferEncoding)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for gzip answers, want the one kept", n)
	}
	// A request that names its own encoding gets the body as sent.
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "plain" || resp.Uncompressed {
		t.Fatalf("%q uncompressed=%v", b, resp.Uncompressed)
	}
}

// A server that closes a kept connection while it is idle: the next
// request fails on it before any answer and is sent again on a new one.
func TestLeanSendsAgainWhenAnIdleConnectionWasClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				// Keep-alive answer, then the server goes away.
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	c, lt := leanClient(t)
	for i := 0; i < 3; i++ {
		if _, body := get(t, c, "http://"+ln.Addr().String()+"/"); body != "ok" {
			t.Fatalf("request %d: %q", i, body)
		}
		time.Sleep(20 * time.Millisecond) // let the server's close arrive
	}
	if n := accepted.Load(); n != 3 {
		t.Fatalf("%d connections, want 3 (each closed by the server)", n)
	}
	lt.mu.Lock()
	idle := len(lt.idle[ln.Addr().String()])
	lt.mu.Unlock()
	if idle != 1 {
		t.Fatalf("%d idle connections, want the last one kept", idle)
	}
}

func TestLeanTimeoutAndConnectionClose(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
		}
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		w.Write([]byte("ok"))
	})
	c, _ := leanClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/slow", nil)
	if _, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx2, "GET", srv.URL+"/slow", nil)
	time.AfterFunc(30*time.Millisecond, cancel2)
	if _, err := c.Do(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("want a cancellation error, got %v", err)
	}
	before := conns.Load()
	get(t, c, srv.URL+"/close")
	get(t, c, srv.URL+"/")
	if n := conns.Load() - before; n != 2 {
		t.Fatalf("%d new connections, want 2 (Connection: close ends the first)", n)
	}
}

// lateDeadlineConn applies a deadline in the past 50 ms late, as a
// cancellation's AfterFunc does when its goroutine is scheduled late on a
// loaded machine.
type lateDeadlineConn struct{ net.Conn }

func (c lateDeadlineConn) SetDeadline(t time.Time) error {
	if t.Before(time.Now()) {
		time.Sleep(50 * time.Millisecond)
	}
	return c.Conn.SetDeadline(t)
}

// An answer that comes after the request was cancelled is not taken: a
// probe in flight when a run is interrupted failed, even when the fault's
// removal lets the frozen target answer at once (net/http's rule too).
func TestLeanReturnsTheCancellationEvenWhenTheAnswerComes(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/held" {
			close(arrived)
			<-release
		}
		w.Write([]byte("ok"))
	})
	base := loadTransport()
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return lateDeadlineConn{c}, nil
	}
	lt := newLeanTransport(base)
	t.Cleanup(lt.CloseIdleConnections)
	c := &http.Client{Transport: lt}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()       // the run is interrupted...
		close(release) // ...and the clean-up lets the target answer
	}()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/held", nil)
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("the answer that came after the cancellation was taken: %s", resp.Status)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want a cancellation error, got %v", err)
	}
	get(t, c, srv.URL+"/") // the transport goes on working
}

// TLS goes through net/http's transport, and with it HTTP/2 when the
// server offers it; the scope guard's dialer sees one dial per request.
func TestLeanLeavesTLSAndTheScopeGuardToNetHTTP(t *testing.T) {
	h2 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(r.Proto)) }))
	h2.EnableHTTP2 = true
	h2.StartTLS()
	defer h2.Close()
	base := loadTransport()
	base.TLSClientConfig = h2.Client().Transport.(*http.Transport).TLSClientConfig
	base.ForceAttemptHTTP2 = true
	lt := newLeanTransport(base)
	defer lt.CloseIdleConnections()
	c := &http.Client{Transport: lt}
	if _, body := get(t, c, h2.URL); body != "HTTP/2.0" {
		t.Fatalf("over TLS: %q, want HTTP/2.0", body)
	}

	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	var dials atomic.Int64
	d := &net.Dialer{}
	// A transport of its own, guarded before its first request, as
	// step.NewEnv's are when a security suite calls SetDial (guarding the
	// one above in place would race with a dial net/http still finishes
	// in the background after the HTTP/2 request).
	guarded := loadTransport()
	guard(guarded, func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	})
	glt := newLeanTransport(guarded)
	defer glt.CloseIdleConnections()
	gc := &http.Client{Transport: glt}
	for i := 0; i < 3; i++ {
		get(t, gc, srv.URL)
	}
	if dials.Load() != 3 || conns.Load() != 3 {
		t.Fatalf("%d dials and %d connections for 3 guarded requests, want 3 each", dials.Load(), conns.Load())
	}
}

// One AfterFunc watches all the requests of a context (see watch): when
// the context ends, every request of it in flight stops at once, each on
// its own connection, none of which is kept; a request begun after that
// fails at once; a request of another context is not touched; and the
// transport goes on working.
func TestLeanCancellationStopsEveryRequestOfTheContext(t *testing.T) {
	var held atomic.Int64
	release := make(chan struct{})
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/held" {
			held.Add(1)
			<-release
		}
		w.Write([]byte("ok"))
	})
	defer close(release)
	c, lt := leanClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	other, cancelOther := context.WithCancel(context.Background())
	defer cancelOther()
	do := func(ctx context.Context, path string) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		resp, err := c.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		return err
	}
	for range 3 { // ended before: their connections are idle, not watched
		if err := do(ctx, "/"); err != nil {
			t.Fatal(err)
		}
	}
	const n = 8
	errs := make(chan error, n+1)
	for range n {
		go func() { errs <- do(ctx, "/held") }()
	}
	go func() { errs <- do(other, "/held") }()
	for held.Load() < n+1 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	cancel()
	for range n {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Fatalf("a request of the cancelled context: want a cancellation error, got %v", err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the cancelled requests took %s to stop", d)
	}
	select {
	case err := <-errs:
		t.Fatalf("the other context's request ended with its neighbours': %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := do(ctx, "/"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a request begun after the cancellation: want a cancellation error, got %v", err)
	}
	lt.wmu.Lock()
	_, still := lt.watched[ctx]
	lt.wmu.Unlock()
	if still {
		t.Fatal("the ended context is still watched")
	}
	before := conns.Load()
	if err := do(context.Background(), "/"); err != nil {
		t.Fatal(err)
	}
	if err := do(other, "/"); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load() - before; n != 1 {
		// Every connection is busy (the other context's) or closed (the
		// cancelled ones'): one new, kept for the second request.
		t.Fatalf("%d new connections for two requests after the cancellation, want 1", n)
	}
}
