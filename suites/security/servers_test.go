package security

import (
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// bankAPI is a small API with two customers. weak plants every weakness
// the checks look for; otherwise it is hardened.
type bankAPI struct {
	weak     bool
	mu       sync.Mutex
	failures int
	files    string
}

var tokens = map[string]string{"alice-token": "alice", "bob-token": "bob"}
var objects = map[string]string{"a1": "alice", "b1": "bob"}

func (b *bankAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if b.weak {
		h.Set("Server", "Apache/2.4.49 (Unix)")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Credentials", "true")
	} else {
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if o := r.Header.Get("Origin"); o == "https://bank.example" {
			h.Set("Access-Control-Allow-Origin", o)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
	}
	user := tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	q := r.URL.Query()
	switch {
	case r.URL.Path == "/":
		h.Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>bank</body></html>")
	case r.URL.Path == "/healthz":
		fmt.Fprint(w, "ok")
	case r.URL.Path == "/login" && r.Method == http.MethodPost:
		var req struct{ User, Password string }
		json.NewDecoder(r.Body).Decode(&req)
		b.mu.Lock()
		defer b.mu.Unlock()
		if !b.weak && b.failures >= 3 {
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		pw := map[string]string{"alice": "alice-pw", "bob": "bob-pw"}
		if b.weak {
			pw["admin"] = "admin"
		}
		if p, ok := pw[req.User]; ok && p == req.Password {
			json.NewEncoder(w).Encode(map[string]string{"token": req.User + "-token"})
			return
		}
		b.failures++
		http.Error(w, "no", http.StatusUnauthorized)
	case r.URL.Path == "/api/open":
		if user == "" && !b.weak {
			http.Error(w, "credentials required", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"customers": 2}`)
	case strings.HasPrefix(r.URL.Path, "/api/objects/"):
		id := strings.TrimPrefix(r.URL.Path, "/api/objects/")
		if user == "" {
			http.Error(w, "credentials required", http.StatusUnauthorized)
			return
		}
		if owner, ok := objects[id]; !ok || (owner != user && !b.weak) {
			http.Error(w, "not yours", http.StatusForbidden)
			return
		}
		if !b.weak {
			h.Set("Cache-Control", "no-store")
		}
		fmt.Fprintf(w, `{"id": %q, "owner": %q}`, id, objects[id])
	case r.URL.Path == "/search":
		h.Set("Content-Type", "text/html; charset=utf-8")
		v := q.Get("q")
		if !b.weak {
			v = html.EscapeString(v)
		}
		fmt.Fprintf(w, "<html><body>Results for %s</body></html>", v)
	case r.URL.Path == "/file":
		name := q.Get("name")
		if !b.weak && (strings.Contains(name, "..") || strings.HasPrefix(name, "/")) {
			http.Error(w, "bad name", http.StatusBadRequest)
			return
		}
		data, err := os.ReadFile(filepath.Join(b.files, name))
		if err != nil {
			http.Error(w, "no such file", http.StatusNotFound)
			return
		}
		w.Write(data)
	case r.URL.Path == "/ping":
		host := q.Get("host")
		if !b.weak && !regexp.MustCompile(`^[a-z0-9.-]+$`).MatchString(host) {
			http.Error(w, "bad host", http.StatusBadRequest)
			return
		}
		// The planted weakness: the value reaches a real shell.
		out, _ := exec.CommandContext(r.Context(), "sh", "-c", "echo checking "+host).CombinedOutput()
		w.Write(out)
	case strings.HasPrefix(r.URL.Path, "/debug/pprof/") && b.weak:
		pprof.Index(w, r)
	case r.URL.Path == "/.git/HEAD" && b.weak:
		fmt.Fprint(w, "ref: refs/heads/main\n")
	default:
		http.NotFound(w, r)
	}
}

// startAPI serves a bank API on 127.0.0.1 and, when weak, an extra open
// port (a forgotten listener). It returns the URL and the extra port.
func startAPI(t *testing.T, weak bool) (string, int) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "terms.txt"), []byte("terms"), 0o644)
	srv := httptest.NewServer(&bankAPI{weak: weak, files: dir})
	t.Cleanup(srv.Close)
	extra := 0
	if weak {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		extra = l.Addr().(*net.TCPAddr).Port
	}
	return srv.URL, extra
}
