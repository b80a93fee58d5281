package step

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/result"
)

// TestTCPConnectLatencyLeavesOutTheDialersWait: a dialer that waits first
// (the scope guard's rate limit) says so, and the tcp step's connect
// latency is the connection's alone.
func TestTCPConnectLatencyLeavesOutTheDialersWait(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg, diags := load(t, fmt.Sprintf(`
steps "s" {
  step "port" {
    tcp {
      address = %q
      timeout = "3s"
    }
  }
}`, l.Addr().String()))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	env, err := NewEnv(cfg, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	const wait = time.Second
	var got *DialInfo
	env.SetDial(func(ctx context.Context, network, addr string) (net.Conn, error) {
		got = DialInfoFrom(ctx)
		start := time.Now()
		time.Sleep(wait)
		if got != nil {
			got.Waited = time.Since(start)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	})
	o := cfg.Suites[0].(*stepsSuite).steps[0].Run(context.Background(), env, map[string]cty.Value{})
	if o.Status != result.Passed {
		t.Fatalf("tcp step: %s", o.Message)
	}
	if got == nil || got.Timeout != 3*time.Second {
		t.Fatalf("the dialer got no connect timeout of 3s: %+v", got)
	}
	f, _ := o.Response.GetAttr("duration_ms").AsBigFloat().Float64()
	if f >= float64(wait/time.Millisecond)/2 {
		t.Errorf("connect latency %.1f ms holds the dialer's %s wait", f, wait)
	}
}
