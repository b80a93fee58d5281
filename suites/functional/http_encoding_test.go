package functional

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/cloudtest/cloudtest/internal/result"
)

// go-httpbin's /gzip and /deflate answer compressed: response.json and
// expect { json } read the decoded body, and response.headers still says
// how it came, whether the step asked for the encoding or net/http did.
func TestCompressedAnswersAreDecodedAndTheHeaderShowsWhatCame(t *testing.T) {
	r := runHTTPBin(t, map[string]string{"suite.hcl": `
functional "compressed" {
  target = target.httpbin
  case "decoded" {
    step "gzip-asked" {
      http {
        path    = "/gzip"
        headers = { "Accept-Encoding" = "gzip" }
      }
      expect {
        json    = { gzipped = true }
        headers = { "Content-Encoding" = "gzip" }
      }
      assert {
        condition     = response.json.gzipped && response.headers["content-encoding"] == "gzip" && strcontains(response.body, "\"gzipped\"")
        error_message = "the body is decoded for response.json and response.body"
      }
    }
    step "gzip-by-default" {
      http { path = "/gzip" }
      expect { json = { gzipped = true } }
      assert {
        condition     = response.headers["Content-Encoding"] == "gzip"
        error_message = "the header says gzip when net/http asked for it too"
      }
    }
    step "deflate" {
      http {
        path    = "/deflate"
        headers = { "Accept-Encoding" = "deflate" }
      }
      expect { json = { deflated = true } }
      assert {
        condition     = response.headers["Content-Encoding"] == "deflate"
        error_message = "the header says deflate"
      }
    }
  }
}`})
	r.passed(t)
}

// go-httpbin has no brotli or zstd; a real server on loopback answers with
// each (and gzip over br, two codings) as the client asked.
func TestBrotliAndZstdAnswersAreDecoded(t *testing.T) {
	const doc = `{"currency":"CNY","balance":12.5}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		switch r.URL.Path {
		case "/br":
			bw := brotli.NewWriter(&b)
			bw.Write([]byte(doc))
			bw.Close()
			w.Header().Set("Content-Encoding", "br")
		case "/zstd":
			zw, _ := zstd.NewWriter(&b)
			zw.Write([]byte(doc))
			zw.Close()
			w.Header().Set("Content-Encoding", "zstd")
		case "/br-gzip":
			var inner bytes.Buffer
			bw := brotli.NewWriter(&inner)
			bw.Write([]byte(doc))
			bw.Close()
			gw := gzip.NewWriter(&b)
			gw.Write(inner.Bytes())
			gw.Close()
			w.Header().Set("Content-Encoding", "br, gzip")
		case "/broken":
			b.WriteString("not gzip at all")
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b.Bytes())
	}))
	t.Cleanup(srv.Close)
	r := runAgainst(t, srv.URL, map[string]string{"suite.hcl": `
functional "compressed" {
  target = target.httpbin
  case "decoded" {
    step "br" {
      http {
        path    = "/br"
        headers = { "Accept-Encoding" = "br" }
      }
      expect {
        json    = { currency = "CNY" }
        headers = { "Content-Encoding" = "br" }
      }
    }
    step "zstd" {
      http {
        path    = "/zstd"
        headers = { "Accept-Encoding" = "zstd" }
      }
      expect { json = { balance = 12.5 } }
      assert {
        condition     = response.json.currency == "CNY" && response.headers["Content-Encoding"] == "zstd"
        error_message = "zstd decoded"
      }
    }
    step "two-codings" {
      http {
        path    = "/br-gzip"
        headers = { "Accept-Encoding" = "br, gzip" }
      }
      expect { json = { currency = "CNY" } }
    }
  }
  case "broken" {
    step "not-gzip" {
      http {
        path    = "/broken"
        headers = { "Accept-Encoding" = "gzip" }
      }
    }
  }
}`})
	for _, name := range []string{"br", "zstd", "two-codings"} {
		if res := r.step(t, "decoded", name); res.Status != result.Passed {
			t.Errorf("%s %s: %s", name, res.Status, res.Message)
		}
	}
	bad := r.step(t, "broken", "not-gzip")
	want := "the answer says Content-Encoding: gzip, but its body cannot be decoded as gzip: gzip: invalid header"
	if bad.Status != result.Errored || !bytes.Contains([]byte(bad.Message), []byte(want)) {
		t.Errorf("broken gzip %s: %s\nwant it to say %q", bad.Status, bad.Message, want)
	}
}
