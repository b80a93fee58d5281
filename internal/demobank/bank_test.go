package demobank

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type client struct {
	t     *testing.T
	url   string
	token string
}

func (c *client) do(method, path string, body any, hdr ...string) (int, map[string]any, http.Header) {
	c.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, c.url+path, rd)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	var raw json.RawMessage
	json.NewDecoder(resp.Body).Decode(&raw)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}

func startBank(t *testing.T, opts Options) (*Bank, string) {
	t.Helper()
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	return b, srv.URL
}

func login(t *testing.T, url, user, pass string) *client {
	t.Helper()
	c := &client{t: t, url: url}
	st, body, _ := c.do("POST", "/api/login", map[string]string{"user": user, "password": pass})
	if st != 200 {
		t.Fatalf("login %s: %d %v", user, st, body)
	}
	c.token = body["token"].(string)
	return c
}

func TestLoginAndBalance(t *testing.T) {
	_, url := startBank(t, Options{})
	anon := &client{t: t, url: url}
	if st, _, _ := anon.do("POST", "/api/login", map[string]string{"user": "alice", "password": "nope"}); st != 401 {
		t.Fatalf("a wrong password gave %d, want 401", st)
	}
	if st, _, _ := anon.do("GET", "/api/accounts/1", nil); st != 401 {
		t.Fatalf("no token gave %d, want 401", st)
	}
	alice := login(t, url, "alice", "wonderland")
	st, acct, _ := alice.do("GET", "/api/accounts/1", nil)
	if st != 200 || acct["balance"].(float64) != 1000 || acct["currency"] != "CNY" || acct["owner"] != "alice" {
		t.Fatalf("GET /api/accounts/1 = %d %v", st, acct)
	}
	if st, _, _ := alice.do("GET", "/api/accounts/2", nil); st != 403 {
		t.Fatalf("another customer's account gave %d, want 403", st)
	}
}

func TestTransfersAreAtomicAndIdempotent(t *testing.T) {
	_, url := startBank(t, Options{DataDir: t.TempDir()})
	bob := login(t, url, "bob", "builder")
	st, tr, _ := bob.do("POST", "/api/transfers", map[string]any{"from": 2, "to": 3, "amount": 10.5}, "Idempotency-Key", "k1")
	if st != 201 || tr["balance"].(float64) != 489.5 {
		t.Fatalf("transfer = %d %v", st, tr)
	}
	st, again, _ := bob.do("POST", "/api/transfers", map[string]any{"from": 2, "to": 3, "amount": 10.5}, "Idempotency-Key", "k1")
	if st != 201 || again["id"] != tr["id"] {
		t.Fatalf("the same key gave %d %v, want the first transfer again", st, again)
	}
	_, acct, _ := bob.do("GET", "/api/accounts/2", nil)
	if acct["balance"].(float64) != 489.5 {
		t.Fatalf("balance after a repeated key = %v, want one debit (489.5)", acct["balance"])
	}
	if st, body, _ := bob.do("POST", "/api/transfers", map[string]any{"from": 2, "to": 3, "amount": 100000}); st != 422 || body["error"] != "insufficient funds" {
		t.Fatalf("overdraft = %d %v", st, body)
	}
	if st, _, _ := bob.do("POST", "/api/transfers", map[string]any{"from": 1, "to": 2, "amount": 1}); st != 403 {
		t.Fatalf("a transfer from someone else's account gave %d, want 403", st)
	}
}

func TestConcurrentTransfersNeverOverdraw(t *testing.T) {
	_, url := startBank(t, Options{DataDir: t.TempDir()})
	carol := login(t, url, "carol", "caterpillar") // 250.00
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _, _ := carol.do("POST", "/api/transfers", map[string]any{"from": 3, "to": 1, "amount": 7})
			if st == 201 {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	_, acct, _ := carol.do("GET", "/api/accounts/3", nil)
	if ok != 35 || acct["balance"].(float64) != 5 {
		t.Fatalf("%d transfers of 7.00 from 250.00 succeeded leaving %v; want 35 leaving 5", ok, acct["balance"])
	}
}

func TestDurableWritesSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	b, url := startBank(t, Options{DataDir: dir})
	alice := login(t, url, "alice", "wonderland")
	var ids []string
	for i := 0; i < 20; i++ {
		st, body, _ := alice.do("POST", "/api/ledger", map[string]any{"n": i})
		if st != 201 {
			t.Fatalf("ledger write %d: %d", i, st)
		}
		ids = append(ids, body["id"].(string))
	}
	alice.do("POST", "/api/transfers", map[string]any{"from": 1, "to": 2, "amount": 1})
	// No Close: the journal is dropped as a kill would drop it.
	b.j.abandon()

	_, url2 := startBank(t, Options{DataDir: dir})
	alice2 := login(t, url2, "alice", "wonderland")
	for i, id := range ids {
		st, e, _ := alice2.do("GET", "/api/ledger/"+id, nil)
		if st != 200 || e["seq"].(float64) != float64(i+1) {
			t.Fatalf("record %s after restart: %d %v", id, st, e)
		}
	}
	if _, acct, _ := alice2.do("GET", "/api/accounts/1", nil); acct["balance"].(float64) != 999 {
		t.Fatalf("balance after restart = %v, want 999", acct["balance"])
	}
}

func TestWriteBehindLosesUnflushedWrites(t *testing.T) {
	dir := t.TempDir()
	b, url := startBank(t, Options{DataDir: dir, WriteBehind: time.Hour})
	alice := login(t, url, "alice", "wonderland")
	st, body, _ := alice.do("POST", "/api/ledger", map[string]any{"n": 1})
	if st != 201 {
		t.Fatalf("write: %d", st)
	}
	b.j.abandon()
	_, url2 := startBank(t, Options{DataDir: dir})
	alice2 := login(t, url2, "alice", "wonderland")
	if st, _, _ := alice2.do("GET", "/api/ledger/"+body["id"].(string), nil); st != 404 {
		t.Fatalf("an acknowledged but unflushed write is %d after a crash, want 404 (lost)", st)
	}
}

func TestATornLastRecordIsIgnored(t *testing.T) {
	dir := t.TempDir()
	b, url := startBank(t, Options{DataDir: dir})
	alice := login(t, url, "alice", "wonderland")
	_, body, _ := alice.do("POST", "/api/ledger", map[string]any{"n": 1})
	b.Close()
	f, _ := os.OpenFile(filepath.Join(dir, journalName), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"op":"ledger","ledger":{"id":"l-torn`)
	f.Close()
	_, url2 := startBank(t, Options{DataDir: dir})
	alice2 := login(t, url2, "alice", "wonderland")
	if st, _, _ := alice2.do("GET", "/api/ledger/"+body["id"].(string), nil); st != 200 {
		t.Fatalf("the record before the torn one is %d, want 200", st)
	}
	if st, b2, _ := alice2.do("POST", "/api/ledger", map[string]any{"n": 2}); st != 201 || b2["seq"].(float64) != 2 {
		t.Fatalf("writing after a torn record: %d %v", st, b2)
	}
}

func TestSecureAndInsecureModes(t *testing.T) {
	_, secure := startBank(t, Options{})
	_, insecure := startBank(t, Options{Insecure: true})
	resp, _ := http.Get(secure + "/healthz")
	resp.Body.Close()
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("secure mode lacks %s", h)
		}
	}
	resp, _ = http.Get(insecure + "/healthz")
	resp.Body.Close()
	if resp.Header.Get("Content-Security-Policy") != "" || resp.Header.Get("Server") == "" {
		t.Errorf("insecure mode headers: %v", resp.Header)
	}
	for url, want := range map[string]int{secure: 404, insecure: 200} {
		resp, _ := http.Get(url + "/admin/users")
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s/admin/users = %d, want %d", url, resp.StatusCode, want)
		}
	}
	c := &client{t: t, url: secure}
	var last int
	for i := 0; i < 6; i++ {
		last, _, _ = c.do("POST", "/api/login", map[string]string{"user": "bob", "password": "guess"})
	}
	if last != 429 {
		t.Errorf("the 6th failed login in a minute gave %d, want 429", last)
	}
}

func TestSlowPathsAndMetrics(t *testing.T) {
	var log bytes.Buffer
	var mu sync.Mutex
	_, url := startBank(t, Options{SlowPaths: map[string]time.Duration{"/healthz": 150 * time.Millisecond}, Log: lockedWriter{&mu, &log}})
	start := time.Now()
	resp, _ := http.Get(url + "/healthz")
	resp.Body.Close()
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("slow path answered in %s, want at least 150ms", d)
	}
	resp, _ = http.Get(url + "/metrics")
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if !strings.HasPrefix(line, "#") && len(strings.Fields(line)) != 2 {
			t.Errorf("metrics line %q is not NAME VALUE", line)
		}
	}
	if !strings.Contains(buf.String(), `demobank_requests_total{route="/healthz",status="200"} 1`) {
		t.Errorf("metrics do not count the request:\n%s", buf.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(log.String(), `"path":"/healthz"`) {
		t.Errorf("request log = %q", log.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestStartServesOnAFreePort(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := Start(ctx, "127.0.0.1:0", Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s/healthz: %v", srv.URL, err)
	}
	resp.Body.Close()
	var out bytes.Buffer
	if code := Main([]string{"--slow-path", "nope"}, &out, &out); code != 2 {
		t.Fatalf("a bad --slow-path gave exit %d, want 2 (%s)", code, out.String())
	}
}
