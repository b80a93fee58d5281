package step

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// A target that compresses its answers (Content-Encoding: gzip, deflate,
// br or zstd) is read decoded: response.body, response.json and the
// expectations see the JSON, while response.headers["Content-Encoding"]
// says what came. net/http decodes gzip itself when it asked for it (the
// step set no Accept-Encoding) and then drops the header; it is put back.

// decodeBody decodes body by the response's Content-Encoding (a list is
// applied in order, so it is undone from the last), reading at most max
// bytes of the result.
func decodeBody(resp *http.Response, body []byte, max int64) ([]byte, error) {
	codings := resp.Header.Values("Content-Encoding")
	var list []string
	for _, c := range codings {
		for _, part := range strings.Split(c, ",") {
			if p := strings.ToLower(strings.TrimSpace(part)); p != "" && p != "identity" {
				list = append(list, p)
			}
		}
	}
	if len(body) == 0 || len(list) == 0 {
		return body, nil
	}
	for i := len(list) - 1; i >= 0; i-- {
		out, err := decode(list[i], body, max)
		if err != nil {
			return nil, fmt.Errorf("the answer says Content-Encoding: %s, but its body cannot be decoded as %s: %v", strings.Join(codings, ", "), list[i], err)
		}
		body = out
	}
	return body, nil
}

func decode(coding string, body []byte, max int64) ([]byte, error) {
	var r io.Reader
	switch coding {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		r = zr
	case "deflate":
		// HTTP's deflate is zlib (RFC 1950); some servers send the raw
		// deflate stream (RFC 1951) instead.
		if zr, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
			r = zr
		} else {
			r = flate.NewReader(bytes.NewReader(body))
		}
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(max)))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("cloudtest decodes gzip, deflate, br and zstd, not %q", coding)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(r, max)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
