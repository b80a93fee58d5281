package security

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/step"
)

// TestGuardedClientsUseNoProxy runs its checks in a child process, because
// net/http reads HTTP_PROXY once per process: a proxy listener on 127.0.0.1
// (inside the scope) must receive nothing when the steps and the checks ask
// for hosts outside the scope. Go never proxies loopback addresses, so the
// out-of-scope hosts are names, which the guard refuses without a lookup.
func TestGuardedClientsUseNoProxy(t *testing.T) {
	if os.Getenv("CLOUDTEST_PROXY_CHILD") == "1" {
		proxyChild(t)
		return
	}
	proxy, hits := listenCounting(t, "127.0.0.1:0")
	cmd := exec.Command(os.Args[0], "-test.run=^TestGuardedClientsUseNoProxy$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "CLOUDTEST_PROXY_CHILD=1", "HTTP_PROXY=http://"+proxy, "HTTPS_PROXY=http://"+proxy,
		"http_proxy=http://"+proxy, "https_proxy=http://"+proxy, "NO_PROXY=", "no_proxy=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("the child failed: %v\n%s", err, out)
	}
	if hits.Load() != 0 {
		t.Fatalf("the proxy on 127.0.0.1 received %d connections for hosts outside the scope", hits.Load())
	}
}

func proxyChild(t *testing.T) {
	ctx := context.Background()
	g, err := NewGuard(ctx, []string{"127.0.0.1"}, 20, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Targets: map[string]*config.Target{"api": {Name: "api", URL: "http://bank.invalid"}}}
	senv, err := step.NewEnv(cfg, map[string]string{"api": "http://bank.invalid"}, "api")
	if err != nil {
		t.Fatal(err)
	}
	defer senv.Close()
	// A host of no target, asked before SetDial: the fallback transport
	// exists already and must be guarded too.
	_ = senv.Client("http://other.invalid/", false)
	senv.SetDial(g.Dial)
	for _, c := range []struct {
		name string
		do   func() error
	}{
		{"target's client", func() error {
			_, err := senv.Client("http://bank.invalid/", true).Get("http://bank.invalid/")
			return err
		}},
		{"fallback client", func() error {
			_, err := senv.Client("http://other.invalid/", false).Get("http://other.invalid/")
			return err
		}},
		{"client with other TLS settings", func() error {
			_, err := senv.ClientTLS("https://bank.invalid/", &tls.Config{InsecureSkipVerify: true}).Get("https://bank.invalid/")
			return err
		}},
	} {
		if err := c.do(); !errors.Is(err, ErrOutOfScope) {
			t.Errorf("%s: err = %v, want refused as out of scope", c.name, err)
		}
	}
	if sent, _ := g.Counts(); sent != 0 {
		t.Errorf("the guard let %d connections through", sent)
	}
}
