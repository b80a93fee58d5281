package security

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/step"
)

// listenCounting listens on addr and counts the connections it accepts.
func listenCounting(t *testing.T, addr string) (string, *atomic.Int64) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return l.Addr().String(), &n
}

func TestGuardRefusesOutOfScopeBeforeConnecting(t *testing.T) {
	outside, hits := listenCounting(t, "127.0.0.2:0")
	inside, _ := listenCounting(t, "127.0.0.1:0")
	ctx := context.Background()
	g, err := NewGuard(ctx, []string{"127.0.0.1"}, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Dial(ctx, "tcp", outside); !errors.Is(err, ErrOutOfScope) {
		t.Fatalf("dial %s: err = %v, want out of scope", outside, err)
	}
	if _, err := g.Dial(ctx, "tcp", "bank.example:443"); !errors.Is(err, ErrOutOfScope) {
		t.Fatalf("a host name not in the scope must be refused (without a lookup): %v", err)
	}
	c, err := g.Dial(ctx, "tcp", inside)
	if err != nil {
		t.Fatalf("dial in scope: %v", err)
	}
	c.Close()
	if sent, refused := g.Counts(); sent != 1 || refused != 2 {
		t.Errorf("counts: sent %d refused %d", sent, refused)
	}
	if hits.Load() != 0 {
		t.Fatalf("the out-of-scope listener received %d connections", hits.Load())
	}
}

func TestGuardCIDRNamesAndBudget(t *testing.T) {
	ctx := context.Background()
	addr, _ := listenCounting(t, "127.0.0.2:0")
	g, err := NewGuard(ctx, []string{"127.0.0.0/30", "localhost"}, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		c, err := g.Dial(ctx, "tcp", addr)
		if err != nil {
			t.Fatalf("127.0.0.2 is inside 127.0.0.0/30: %v", err)
		}
		c.Close()
	}
	if _, err := g.Dial(ctx, "tcp", addr); !errors.Is(err, ErrBudget) {
		t.Fatalf("the third connection must exceed max_requests = 2: %v", err)
	}
	if _, err := g.Resolve(ctx, "127.0.0.9"); !errors.Is(err, ErrOutOfScope) {
		t.Fatalf("127.0.0.9 is outside 127.0.0.0/30: %v", err)
	}
	if ips, err := g.Resolve(ctx, "localhost"); err != nil || len(ips) == 0 {
		t.Fatalf("localhost is declared: %v %v", ips, err)
	}
}

func TestSuiteRefusesTargetOutsideScope(t *testing.T) {
	outside, hits := listenCounting(t, "127.0.0.2:0")
	r := runSuite(t, fmt.Sprintf(`
target "legacy" { url = "http://%s" }

security "out-of-scope" {
  target = target.legacy
  scope { allow = ["127.0.0.1"] }
  checks = ["headers", "exposure"]
  drill "d" {
    attack "a" {
      step "probe" {
        http { path = "/" }
      }
      expect_detection {
        within = "200ms"
        status = [403]
      }
    }
  }
}
`, outside), nil)
	if r.suite.Status != result.Errored {
		t.Fatalf("suite status %s, want error: %s", r.suite.Status, r.suite.Message)
	}
	if !strings.Contains(r.suite.Message, "outside the declared scope") || !strings.Contains(r.suite.Message, "127.0.0.2") {
		t.Errorf("message does not say why: %s", r.suite.Message)
	}
	if hits.Load() != 0 {
		t.Fatalf("%d connections reached 127.0.0.2", hits.Load())
	}
	if r.sum.Refused < 3 || r.sum.Requests != 0 {
		t.Errorf("guard counts: requests %d refused %d", r.sum.Requests, r.sum.Refused)
	}
	if len(r.sum.Scope) != 1 || r.sum.Scope[0] != "127.0.0.1" {
		t.Errorf("the report must list the scope: %v", r.sum.Scope)
	}
}

func TestSweepAtALowRateFindsEveryOpenPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ports []int
	for range 8 {
		addr, _ := listenCounting(t, "127.0.0.1:0")
		_, p, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(p)
		ports = append(ports, n)
	}
	slices.Sort(ports)
	g, err := NewGuard(ctx, []string{"127.0.0.1"}, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	open, err := sweep(ctx, g, "127.0.0.1", ports)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(open, ports) {
		t.Fatalf("at 4 connections a second the sweep found %v open, want all of %v", open, ports)
	}
}

func TestGuardChargesTheBudgetAfterTheWait(t *testing.T) {
	addr, hits := listenCounting(t, "127.0.0.1:0")
	ctx := context.Background()
	g, err := NewGuard(ctx, []string{"127.0.0.1"}, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.Dial(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// The second waits half a second for the rate; cut short, it must
	// spend nothing, and report no wait as its own.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := g.Dial(short, "tcp", addr); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a dial cut short during the wait: err = %v", err)
	}
	di := &step.DialInfo{Timeout: time.Second}
	c, err = g.Dial(step.WithDialInfo(ctx, di), "tcp", addr)
	if err != nil {
		t.Fatalf("the budget of 2 must still hold one connection: %v", err)
	}
	c.Close()
	if di.Waited < 100*time.Millisecond {
		t.Errorf("the guard waited for the rate limit but reported %v", di.Waited)
	}
	if sent, _ := g.Counts(); sent != 2 {
		t.Errorf("sent %d, want 2", sent)
	}
	if _, err := g.Dial(ctx, "tcp", addr); !errors.Is(err, ErrBudget) {
		t.Fatalf("a third connection must exceed the budget: %v", err)
	}
	if hits.Load() > 2 {
		t.Errorf("the listener saw %d connections", hits.Load())
	}
}

func TestEveryStepKindIsHeldToTheScope(t *testing.T) {
	outside, hits := listenCounting(t, "127.0.0.2:0")
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+outside+"/stolen", http.StatusFound)
	}))
	defer redirect.Close()
	attack := func(name, step string) string {
		return fmt.Sprintf(`
    attack %q {
      step "s" {
        %s
      }
      expect_detection {
        within = "200ms"
        status = [403]
      }
    }`, name, step)
	}
	r := runSuite(t, fmt.Sprintf(`
target "api" { url = %q }

security "held" {
  target = target.api
  scope { allow = ["127.0.0.1"] }
  identity "eve" {
    step "login" {
      http { url = "http://%[2]s/login" }
    }
    headers = { Authorization = "x" }
  }
  drill "d" {%s%s%s
  }
}
`, redirect.URL, outside,
		attack("redirect", `http {
          path             = "/"
          follow_redirects = true
        }`),
		attack("absolute-url", fmt.Sprintf(`http { url = "http://%s/" }`, outside)),
		attack("tcp", fmt.Sprintf(`tcp { address = %q }`, outside))), nil)
	if hits.Load() != 0 {
		t.Fatalf("%d connections reached 127.0.0.2", hits.Load())
	}
	// The redirect itself came from inside the scope; the four refusals
	// are the login, the redirect's target, the url and the tcp address.
	if r.sum.Refused < 4 {
		t.Errorf("the guard refused %d connections, want at least 4: %s", r.sum.Refused, r.suite.Message)
	}
	var refused []string
	for _, res := range r.results {
		if strings.Contains(res.Message, "outside the declared scope") {
			refused = append(refused, res.Case+"/"+res.Step)
		}
	}
	t.Logf("refused: %v", refused)
	if len(refused) < 4 {
		t.Errorf("results saying out of scope: %v, want the login and the three attacks", refused)
	}
}
