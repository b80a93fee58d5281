package performance

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
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

// An error of no kind of its own ("error": a server that closes the
// connection without an answer, a capture that cannot be evaluated) comes
// with its first message, in the summary and the suite's message, so that
// what went wrong is not only in the raw results.
func TestEachKindOfErrorKeepsItsFirstMessage(t *testing.T) {
	eof := listen(t)
	go serve(eof, func(c net.Conn) {
		c.Read(make([]byte, 4096))
		c.Close() // no answer, no reset: EOF
	})
	for _, tt := range []struct{ name, step, want string }{
		{"EOF on the fast path", `http { path = "/" }`, "EOF"},
		{"EOF on the journeys", `
      http { path = "/" }
      capture { s = response.status }`, "EOF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, ls, _ := runLoad(t, "http://"+eof.Addr().String(), `
  load {
    rate     = 10
    duration = "300ms"
  }
  journey "j" {
    step "get" {
      `+tt.step+`
    }
  }`)
			o := ls.Overall
			if o.ErrorKinds["error"] == 0 || !strings.Contains(o.ErrorSamples["error"], tt.want) || !strings.Contains(res.Message, "errors: error × ") || !strings.Contains(res.Message, tt.want) {
				t.Fatalf("kinds %v, samples %v, message %q", o.ErrorKinds, o.ErrorSamples, res.Message)
			}
		})
	}
}
