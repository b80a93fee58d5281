// Package testhttpbin starts a real go-httpbin (github.com/mccutchen/go-httpbin,
// the HTTP test server QA teams use) on a free loopback port for tests, so
// that the HTTP machinery is checked against a server cloudtest did not
// write. CI installs the binary (.ci/services.sh).
package testhttpbin

import (
	"bytes"
	"context"
	"fmt"
	"github.com/cloudtest/cloudtest/internal/freeport"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Install is the command that installs the go-httpbin binary the tests run.
const Install = "go install github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin@v2.26.0"

// Binary finds go-httpbin: $CLOUDTEST_GO_HTTPBIN, then $PATH, then
// $(go env GOPATH)/bin, where go install puts it.
func Binary() (string, error) {
	if p := os.Getenv("CLOUDTEST_GO_HTTPBIN"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("go-httpbin"); err == nil {
		return p, nil
	}
	var dirs []string
	if gb := os.Getenv("GOBIN"); gb != "" {
		dirs = append(dirs, gb)
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = string(bytes.TrimSpace(out))
		}
	}
	for _, gp := range filepath.SplitList(gopath) {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "go-httpbin")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("the go-httpbin binary is not installed (not in $PATH nor in $(go env GOPATH)/bin); install it with: %s", Install)
}

// Start runs go-httpbin on 127.0.0.1 on a free port and returns its base
// URL ("http://127.0.0.1:PORT"); the server is stopped when the test ends.
// Extra arguments go to go-httpbin (-https-cert-file …). A missing binary
// fails the test with the command that installs it.
func Start(t testing.TB, args ...string) string {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	for _, a := range args {
		if a == "-https-cert-file" {
			scheme = "https"
		}
	}
	var lastErr error
	for try := 0; try < 3; try++ { // another process may take the free port first
		port, err := freeport.Loopback()
		if err != nil {
			t.Fatal(err)
		}
		base := fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)
		var out lockedBuffer
		cmd := exec.Command(bin, append([]string{"-host", "127.0.0.1", "-port", strconv.Itoa(port), "-log-level", "WARN"}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", bin, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if lastErr = waitReady(port, exited); lastErr == nil {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			return base
		}
		cmd.Process.Kill()
		lastErr = fmt.Errorf("%v; its output:\n%s", lastErr, out.String())
	}
	t.Fatalf("go-httpbin (%s) did not start: %v", bin, lastErr)
	return ""
}

// waitReady waits until the port accepts connections, for at most 10 s.
func waitReady(port int, exited <-chan error) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("go-httpbin exited: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("go-httpbin did not listen on %s within 10 s", addr)
		case <-time.After(20 * time.Millisecond):
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Get is a plain GET of base+path, for a test to check the server itself.
func Get(t testing.TB, url string) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
