package step

import (
	"context"
	"net"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
)

// TCPConnect is a tcp block: open a connection and measure how long it took.
type TCPConnect struct {
	Address hcl.Expression
	Timeout time.Duration
}

var tcpSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "address", Required: true}, {Name: "timeout"}}}

func decodeTCP(b *hcl.Block, dc *config.DecodeContext, r roots) (*TCPConnect, hcl.Diagnostics) {
	content, diags := b.Body.Content(tcpSchema)
	t := &TCPConnect{Timeout: 5 * time.Second}
	t.Address = lateAttrs(content, dc, r.request, &diags)("address")
	if a, ok := content.Attributes["timeout"]; ok {
		d, dd := dc.Duration(a)
		diags = append(diags, dd...)
		t.Timeout = d
	}
	return t, diags
}

func (t *TCPConnect) do(ctx context.Context, env *Env, ectx *hcl.EvalContext) (string, time.Duration, error) {
	addr, err := evalString(t.Address, ectx, "address")
	if err != nil {
		return "", 0, err
	}
	if env.Dial != nil {
		// The dialer may wait first (the scope guard's rate limit): it
		// bounds the connection itself by the timeout and says how long it
		// waited, which is no part of the connect latency.
		di := &DialInfo{Timeout: t.Timeout}
		start := time.Now()
		conn, err := env.Dial(WithDialInfo(ctx, di), "tcp", addr)
		if err != nil {
			return addr, 0, err
		}
		dur := time.Since(start) - di.Waited
		conn.Close()
		return addr, dur, nil
	}
	d := net.Dialer{Timeout: t.Timeout}
	start := time.Now()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return addr, 0, err
	}
	dur := time.Since(start)
	conn.Close()
	return addr, dur, nil
}

func tcpResponse(addr string, d time.Duration) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"address":     cty.StringVal(addr),
		"duration_ms": cty.NumberFloatVal(float64(d.Microseconds()) / 1000),
	})
}
