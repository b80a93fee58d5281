package security

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/cloudtest/cloudtest/internal/step"
)

// ErrOutOfScope is returned (wrapped) for every connection the scope guard
// refuses; nothing has been sent when it is.
var ErrOutOfScope = errors.New("outside the declared scope")

// ErrBudget is returned when the scope's request budget is spent.
var ErrBudget = errors.New("the scope's request budget is spent")

// Guard holds a suite to its declared scope: every connection of every
// check and drill is opened by Dial, which resolves the host, compares each
// address with the allow list and refuses before a packet leaves. It also
// bounds the count and the rate of connections.
type Guard struct {
	allow    []string
	prefixes []netip.Prefix
	names    map[string]bool
	max      int
	interval time.Duration

	mu       sync.Mutex
	count    int
	refused  int
	next     time.Time
	resolver *net.Resolver
}

// NewGuard builds a guard from allow entries (IP addresses, CIDRs or host
// names); host names are resolved now, once. max bounds the connections
// (0: no bound) and rate the connections per second (0: no bound).
func NewGuard(ctx context.Context, allow []string, max int, rate float64) (*Guard, error) {
	g := &Guard{allow: allow, names: map[string]bool{}, max: max, resolver: net.DefaultResolver}
	if rate > 0 {
		g.interval = time.Duration(float64(time.Second) / rate)
	}
	for _, a := range allow {
		a = strings.TrimSpace(a)
		if p, err := netip.ParsePrefix(a); err == nil {
			g.prefixes = append(g.prefixes, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(a); err == nil {
			g.prefixes = append(g.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(a, "."))
		addrs, err := g.resolver.LookupNetIP(ctx, "ip", name)
		if err != nil {
			return nil, fmt.Errorf("scope: the host %q cannot be resolved: %w", a, err)
		}
		g.names[name] = true
		for _, ip := range addrs {
			ip = ip.Unmap()
			g.prefixes = append(g.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	return g, nil
}

// Allow is the declared scope, for the report.
func (g *Guard) Allow() []string { return g.allow }

// Counts returns the connections opened and refused so far.
func (g *Guard) Counts() (sent, refused int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.count, g.refused
}

// Allowed reports whether ip is inside the scope.
func (g *Guard) Allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range g.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Resolve returns the in-scope addresses of host. A name that is not
// declared in the scope is refused without a DNS query, so that not even a
// lookup leaves for a host nobody allowed.
func (g *Guard) Resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	host = strings.Trim(host, "[]")
	if ip, err := netip.ParseAddr(host); err == nil {
		if !g.Allowed(ip) {
			g.refuse()
			return nil, fmt.Errorf("%s is %w (%s)", ip, ErrOutOfScope, strings.Join(g.allow, ", "))
		}
		return []netip.Addr{ip.Unmap()}, nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if !g.names[name] {
		g.refuse()
		return nil, fmt.Errorf("the host %q is %w (%s)", host, ErrOutOfScope, strings.Join(g.allow, ", "))
	}
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return nil, err
	}
	var in []netip.Addr
	for _, ip := range addrs {
		if g.Allowed(ip) {
			in = append(in, ip.Unmap())
		}
	}
	if len(in) == 0 {
		g.refuse()
		return nil, fmt.Errorf("the host %q resolves to %v, which is %w (%s)", host, addrs, ErrOutOfScope, strings.Join(g.allow, ", "))
	}
	return in, nil
}

func (g *Guard) refuse() {
	g.mu.Lock()
	g.refused++
	g.mu.Unlock()
}

// take waits for the rate limit, then spends one connection of the
// budget: a wait cut short spends nothing.
func (g *Guard) take(ctx context.Context) error {
	g.mu.Lock()
	if err := g.spent(); err != nil {
		g.mu.Unlock()
		return err
	}
	var wait time.Duration
	if g.interval > 0 {
		now := time.Now()
		if g.next.Before(now) {
			g.next = now
		}
		wait = g.next.Sub(now)
		g.next = g.next.Add(g.interval)
	}
	g.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// Checked again: others may have spent the rest during the wait.
	if err := g.spent(); err != nil {
		return err
	}
	g.count++
	return nil
}

// spent refuses a connection over the budget; g.mu is held.
func (g *Guard) spent() error {
	if g.max > 0 && g.count >= g.max {
		g.refused++
		return fmt.Errorf("%w (%d connections); raise scope.max_requests if more are needed", ErrBudget, g.max)
	}
	return nil
}

// Dial opens a connection to addr (host:port) only when the host resolves
// inside the scope, and connects to the checked address itself, so a second
// resolution cannot send the connection elsewhere.
func (g *Guard) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := g.Resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	di := step.DialInfoFrom(ctx)
	waitStart := time.Now()
	if err := g.take(ctx); err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	if di != nil {
		di.Waited = time.Since(waitStart)
		if di.Timeout > 0 {
			d.Timeout = di.Timeout
		}
	}
	var last error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}
