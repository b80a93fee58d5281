// Package freeport finds a free loopback TCP port for a process that will
// bind it a moment later.
//
// The port is taken below the kernel's ephemeral range (on Linux
// net.ipv4.ip_local_port_range, 32768-60999 by default): the ports that
// bind(":0") and every outgoing connection are given come from that range,
// so between the check here and the process's own bind no other program on
// the machine is handed the same port by the kernel (with a port from
// ":0", a parallel test's server was, and the probes of a frozen target
// were answered by another process).
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
)

// lowest is the bottom of the range searched: above the ports that common
// services listen on by default below it.
const lowest = 20000

// Loopback returns a port free on 127.0.0.1 and outside the ephemeral
// range; where that range leaves too little room below it, a port the
// kernel picks.
func Loopback() (int, error) {
	if top := ephemeralLow(); top-lowest >= 1000 {
		for range 64 {
			port := lowest + rand.IntN(top-lowest)
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				l.Close()
				return port, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range, or 0
// when it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
		return 0
	}
	return lo
}
