package performance

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// TestErrorKindsComeFromTheErrorsOfRealSockets sends load at a closed port,
// at a server that resets every connection and at one that never answers,
// on both engines (vegeta's for a static step, the journey engine for a
// step with an assert), and reads the kind of every error from the report.
func TestErrorKindsComeFromTheErrorsOfRealSockets(t *testing.T) {
	closed := listen(t)
	closedAddr := closed.Addr().String()
	closed.Close()

	reset := listen(t)
	go serve(reset, func(c net.Conn) {
		c.Read(make([]byte, 4096)) // the request, then a RST instead of an answer
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})

	hang := listen(t)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go serve(hang, func(c net.Conn) {
		go io.Copy(io.Discard, c)
		<-stop
		c.Close()
	})

	for _, tt := range []struct{ server, addr, kind string }{
		{"a closed port", closedAddr, "connection refused"},
		{"a server that resets", reset.Addr().String(), "connection reset"},
		{"a server that never answers", hang.Addr().String(), "timeout"},
	} {
		for _, engine := range []struct{ name, extra string }{
			{"vegeta", ""},
			{"journeys", "\n      assert {\n        condition     = response.status == 200\n        error_message = \"not 200\"\n      }"},
		} {
			t.Run(tt.server+" on "+engine.name, func(t *testing.T) {
				body := fmt.Sprintf(`
  load {
    rate     = 10
    duration = "500ms"
  }
  journey "j" {
    step "get" {
      http {
        path    = "/"
        timeout = "200ms"
      }
      expect { status = 200 }%s
    }
  }`, engine.extra)
				start := time.Now()
				_, ls, _ := runLoad(t, "http://"+tt.addr, body)
				kinds := ls.Overall.ErrorKinds
				if len(kinds) != 1 || kinds[tt.kind] == 0 {
					t.Fatalf("error kinds %v, want only %q", kinds, tt.kind)
				}
				if time.Since(start) > 10*time.Second {
					t.Fatalf("the load took %s", time.Since(start))
				}
			})
		}
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func serve(l net.Listener, handle func(net.Conn)) {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go handle(c)
	}
}
