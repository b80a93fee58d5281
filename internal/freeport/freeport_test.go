package freeport

import (
	"fmt"
	"net"
	"testing"
)

// The ports are free, and below the ephemeral range that bind(":0") and
// outgoing connections draw from: while a port given here is held, 2000
// ports the kernel hands out are never it.
func TestAPortIsFreeAndOutsideTheRangeTheKernelHandsOut(t *testing.T) {
	low := ephemeralLow()
	if low < lowest+1000 {
		t.Fatalf("ephemeral range starts at %d: this machine leaves no room below it", low)
	}
	seen := map[int]bool{}
	for range 200 {
		port, err := Loopback()
		if err != nil {
			t.Fatal(err)
		}
		if port < lowest || port >= low {
			t.Fatalf("port %d is outside [%d, %d)", port, lowest, low)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatalf("port %d is not free: %v", port, err)
		}
		l.Close()
		seen[port] = true
	}
	if len(seen) < 150 {
		t.Fatalf("200 calls gave %d distinct ports", len(seen))
	}
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for range 2000 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
		if p := l.Addr().(*net.TCPAddr).Port; seen[p] {
			t.Fatalf("the kernel handed out port %d, one Loopback gave", p)
		}
	}
}
