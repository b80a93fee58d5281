package step

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
)

// hostile answers bodies a target should not send: JSON nested 8,000 deep
// (20 KB, which cost go-cty 1 GB to decode), JSON just within the depth
// bound, and JSON larger than response.json decodes.
func hostile(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/deep", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat(`[`, 8000)+`1`+strings.Repeat(`]`, 8000)+strings.Repeat(" ", 4000))
	})
	mux.HandleFunc("/within", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"a":"[[[[","b":`+strings.Repeat(`[`, maxJSONDepth-1)+`1`+strings.Repeat(`]`, maxJSONDepth-1)+`}`)
	})
	mux.HandleFunc("/large", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"pad":"`+strings.Repeat("x", maxJSONBytes)+`"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestADeeplyNestedJSONBodyIsAStepErrorNotAMemoryBlowUp(t *testing.T) {
	srv := hostile(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	outs := runAll(t, srv.URL, `
steps "s" {
  target = target.t
  step "deep" {
    http { path = "/deep" }
    capture { first = response.json[0] }
  }
  step "within" {
    http { path = "/within" }
    assert {
      condition     = response.json.a == "[[[["
      error_message = "a is the string"
    }
  }
  step "large" {
    http { path = "/large" }
    capture { pad = response.json.pad }
  }
}
`)
	runtime.ReadMemStats(&after)
	if outs[0].Status != result.Errored || !strings.Contains(outs[0].Message, "more than 256 levels deep") || !strings.Contains(outs[0].Message, "/deep") {
		t.Errorf("deep: %s %q; want an error saying the body is too deep", outs[0].Status, outs[0].Message)
	}
	if outs[1].Status != result.Passed {
		t.Errorf("within: %s %q; a body nested %d deep must decode", outs[1].Status, outs[1].Message, maxJSONDepth)
	}
	if outs[2].Status != result.Errored || !strings.Contains(outs[2].Message, "response.json decodes at most 4 MiB") {
		t.Errorf("large: %s %q; want an error saying the body is too large", outs[2].Status, outs[2].Message)
	}
	t.Logf("the three steps allocated %d MiB", (after.TotalAlloc-before.TotalAlloc)>>20)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
		t.Errorf("the three steps allocated %d MiB", alloc>>20)
	}
}

// requestLines is a plain TCP server that records the request line of each
// request and answers 200, so that the test sees what went on the wire.
func requestLines(t *testing.T) (string, func() []string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var lines []string
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					mu.Lock()
					lines = append(lines, strings.TrimRight(line, "\r\n"))
					mu.Unlock()
					for { // the headers
						h, err := r.ReadString('\n')
						if err != nil {
							return
						}
						if h == "\r\n" {
							break
						}
					}
					if strings.Contains(line, " HTTP/1.1") {
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
					} else {
						io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
						return
					}
				}
			}(c)
		}
	}()
	return "http://" + ln.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(lines)
	}
}

func TestInterpolatedValuesAreEncodedWhereTheyLandInTheURL(t *testing.T) {
	url, lines := requestLines(t)
	outs := runAll(t, url, `
variable "id" { default = "a b?c#d%/e" }
variable "q" { default = "R&D 100% = +1" }
variable "base" { default = "/api/v1" }
steps "s" {
  target = target.t
  step "segment" {
    http { path = "/items/${var.id}" }
  }
  step "query" {
    http { path = "/search?q=${var.q}&page=1" }
  }
  step "base" {
    http { path = "${var.base}/x" }
  }
  step "escaped" {
    http { path = "/items/${"a%2Fb"}" }
  }
  step "literal" {
    http { path = "/search?q=two words" }
  }
  step "url" {
    http { url = "${target.t.url}/items/${var.id}?q=${var.q}" }
  }
  step "query-map" {
    http {
      path  = "/search"
      query = { q = var.q }
    }
  }
}
`)
	for _, o := range outs {
		if o.Status != result.Passed {
			t.Errorf("a step did not pass: %s %s", o.Status, o.Message)
		}
	}
	want := []string{
		"GET /items/a%20b%3Fc%23d%25/e HTTP/1.1",
		"GET /search?q=R%26D%20100%25%20%3D%20%2B1&page=1 HTTP/1.1",
		"GET /api/v1/x HTTP/1.1",
		"GET /items/a%2Fb HTTP/1.1",
		"GET /search?q=two%20words HTTP/1.1",
		"GET /items/a%20b%3Fc%23d%25/e?q=R%26D%20100%25%20%3D%20%2B1 HTTP/1.1",
		"GET /search?q=R%26D+100%25+%3D+%2B1 HTTP/1.1",
	}
	if got := lines(); !slices.Equal(got, want) {
		t.Fatalf("request lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
