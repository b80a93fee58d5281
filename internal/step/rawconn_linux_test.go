package step

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// dialBoth connects to an echo server twice: once as net gives the
// connection, once wrapped by rawIO, so that both can be compared.
func dialBoth(t *testing.T) (plain, raw net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	plain, raw = dial(), rawIO(dial())
	if _, ok := raw.(*rawIOConn); !ok {
		t.Fatalf("a TCP connection was not wrapped: %T", raw)
	}
	return plain, raw
}

func TestRawIOConnCarriesLargeWritesAndReads(t *testing.T) {
	_, c := dialBoth(t)
	// Larger than the socket buffers, so writes and reads wait for the
	// poller (EAGAIN) many times.
	data := make([]byte, 8<<20)
	rand.Read(data)
	werr := make(chan error, 1)
	go func() {
		n, err := c.Write(data)
		if err == nil && n != len(data) {
			err = io.ErrShortWrite
		}
		werr <- err
	}()
	got := make([]byte, len(data))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("writing: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the echo differs from what was written")
	}
}

func TestRawIOConnErrorsReadAsNetOnes(t *testing.T) {
	plain, raw := dialBoth(t)
	for _, c := range []net.Conn{plain, raw} {
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, err := c.Read(make([]byte, 10))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%T: a read past its deadline gave %v", c, err)
		}
		want := "read tcp " + c.LocalAddr().String() + "->" + c.RemoteAddr().String() + ": i/o timeout"
		if err.Error() != want {
			t.Fatalf("%T: %q, want %q", c, err.Error(), want)
		}
		c.Close()
		if _, err := c.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) || !strings.HasPrefix(err.Error(), "read tcp ") {
			t.Fatalf("%T: a read after close gave %v", c, err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) || !strings.HasPrefix(err.Error(), "write tcp ") {
			t.Fatalf("%T: a write after close gave %v", c, err)
		}
	}
}

func TestRawIOConnSeesTheEndOfTheStream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("bye"))
			c.Close()
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := rawIO(nc)
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "bye" {
		t.Fatalf("read %q, %v; want \"bye\" then the end of the stream", b, err)
	}
}
