package demobank

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log the bank and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestTheSecureBankDetectsAndAlerts(t *testing.T) {
	alerts := make(chan string, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		alerts <- string(b)
	}))
	defer hook.Close()
	log := &syncBuffer{}
	_, url := startBank(t, Options{Log: log})
	c := &client{t: t, url: url}
	code, body, _ := c.do("POST", "/api/login", map[string]string{"user": "alice", "password": "wonderland"})
	if code != 200 {
		t.Fatalf("login %d", code)
	}
	c.token = body["token"].(string)
	if code, _, _ := c.do("PUT", "/api/alerts/webhook", map[string]string{"url": "http://10.0.0.1/alerts"}); code != 400 {
		t.Errorf("a webhook off this machine must be refused, got %d", code)
	}
	if code, _, _ := c.do("PUT", "/api/alerts/webhook", map[string]string{"url": hook.URL}); code != 200 {
		t.Fatalf("register webhook: %d", code)
	}
	anon := &client{t: t, url: url}
	wait := func(event string) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case a := <-alerts:
				if strings.Contains(a, `"event":"`+event+`"`) {
					if !strings.Contains(log.String(), `"event":"`+event+`"`) {
						t.Errorf("%s was posted but not logged", event)
					}
					return
				}
			case <-deadline:
				t.Fatalf("no %s alert within 5s; log:\n%s", event, log.String())
			}
		}
	}
	for i := range 5 {
		anon.do("POST", "/api/login", map[string]string{"user": fmt.Sprintf("customer%d", i), "password": "x"})
	}
	wait("credential_stuffing_suspected")
	anon.do("GET", "/.git/HEAD", nil)
	wait("scan_detected")
	if code, _, _ := anon.do("GET", "/api/branches?city=x%27%20OR%201=1--", nil); code != 403 {
		t.Errorf("an injection in the query must be blocked, got %d", code)
	}
	wait("injection_blocked")
	if code, body, _ := anon.do("GET", "/api/branches?city=shanghai", nil); code != 200 || body["city"] != "shanghai" {
		t.Errorf("a plain search: %d %v", code, body)
	}
	for range 6 {
		anon.do("POST", "/api/login", map[string]string{"user": "bob", "password": "wrong"})
	}
	wait("login_throttled")
}

func TestTheInsecureBankHasItsWeaknessesPlanted(t *testing.T) {
	_, url := startBank(t, Options{Insecure: true})
	c := &client{t: t, url: url}
	if code, _, _ := c.do("POST", "/api/login", map[string]string{"user": "admin", "password": "admin"}); code != 200 {
		t.Errorf("admin/admin: %d", code)
	}
	_, _, h := c.do("GET", "/api/accounts", nil, "Origin", "https://evil.example")
	if h.Get("Access-Control-Allow-Origin") != "https://evil.example" || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("CORS: %v", h)
	}
	resp, err := http.Get(url + "/api/branches?city=%3Cscript%3Ex%3C/script%3E")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "<script>x</script>") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("the search must reflect its parameter into HTML: %s", b)
	}
	resp, _ = http.Get(url + "/api/branches?city=x%27")
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(b), "SQLSTATE") {
		t.Errorf("a quote must leak the SQL error: %d %s", resp.StatusCode, b)
	}
}

func TestTheWebhookFollowsNoRedirect(t *testing.T) {
	var redirected int
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		redirected++
		mu.Unlock()
	}))
	defer other.Close()
	hit := make(chan struct{}, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- struct{}{}
		http.Redirect(w, r, other.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	defer hook.Close()
	b, url := startBank(t, Options{})
	c := login(t, url, "alice", "wonderland")
	if code, _, _ := c.do("PUT", "/api/alerts/webhook", map[string]string{"url": hook.URL}); code != 200 {
		t.Fatalf("register webhook: %d", code)
	}
	(&client{t: t, url: url}).do("GET", "/.git/HEAD", nil)
	select {
	case <-hit:
	case <-time.After(5 * time.Second):
		t.Fatal("the alert did not reach the webhook within 5s")
	}
	b.alerts.Wait()
	mu.Lock()
	defer mu.Unlock()
	if redirected != 0 {
		t.Fatalf("the webhook's redirect was followed %d time(s)", redirected)
	}
}
