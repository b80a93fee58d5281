package step

import (
	"context"
	"time"
)

// DialInfo travels in a dial's context to a dialer that waits before it
// connects (a security suite's scope guard, for its rate limit): Timeout
// bounds the connection itself, started after that wait, so a slow rate is
// not taken for a closed port; the dialer records the wait in Waited, so a
// connect latency leaves it out.
type DialInfo struct {
	Timeout time.Duration
	Waited  time.Duration
}

type dialInfoKey struct{}

// WithDialInfo returns ctx carrying di.
func WithDialInfo(ctx context.Context, di *DialInfo) context.Context {
	return context.WithValue(ctx, dialInfoKey{}, di)
}

// DialInfoFrom returns the DialInfo ctx carries, or nil.
func DialInfoFrom(ctx context.Context) *DialInfo {
	di, _ := ctx.Value(dialInfoKey{}).(*DialInfo)
	return di
}
