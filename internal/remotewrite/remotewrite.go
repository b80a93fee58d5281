// Package remotewrite pushes samples to a Prometheus remote-write endpoint
// (protocol 1.0: a snappy-compressed protobuf WriteRequest). The four
// messages of the protocol are encoded by hand with protobuf's wire
// package, which spares cloudtest Prometheus's own module and its
// dependencies; snappy is klauspost/compress's.
package remotewrite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

// Series is one time series with its samples. Labels are the series'
// labels besides __name__; Name is its metric name.
type Series struct {
	Name    string
	Labels  map[string]string
	Samples []Sample
}

// Sample is one value at a time.
type Sample struct {
	Value float64
	Time  time.Time
}

// Encode returns the uncompressed protobuf WriteRequest of series:
//
//	message WriteRequest { repeated TimeSeries timeseries = 1; }
//	message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//	message Label        { string name = 1; string value = 2; }
//	message Sample       { double value = 1; int64 timestamp = 2; } // ms
//
// Labels are sorted by name, as the protocol requires; empty label values
// are left out (Prometheus treats them as absent).
func Encode(series []Series) []byte {
	var out []byte
	for _, s := range series {
		var ts []byte
		labels := map[string]string{"__name__": s.Name}
		for k, v := range s.Labels {
			if v != "" {
				labels[k] = v
			}
		}
		names := make([]string, 0, len(labels))
		for k := range labels {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			var l []byte
			l = protowire.AppendTag(l, 1, protowire.BytesType)
			l = protowire.AppendString(l, k)
			l = protowire.AppendTag(l, 2, protowire.BytesType)
			l = protowire.AppendString(l, labels[k])
			ts = protowire.AppendTag(ts, 1, protowire.BytesType)
			ts = protowire.AppendBytes(ts, l)
		}
		for _, smp := range s.Samples {
			var b []byte
			b = protowire.AppendTag(b, 1, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, math.Float64bits(smp.Value))
			b = protowire.AppendTag(b, 2, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(smp.Time.UnixMilli()))
			ts = protowire.AppendTag(ts, 2, protowire.BytesType)
			ts = protowire.AppendBytes(ts, b)
		}
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, ts)
	}
	return out
}

// Client pushes to one endpoint.
type Client struct {
	URL  string
	HTTP *http.Client
}

// New returns a client for url with a short timeout: a dashboard that is
// slow must not hold up a load.
func New(url string) *Client {
	return &Client{URL: url, HTTP: &http.Client{Timeout: 5 * time.Second}}
}

// Push sends series in one request.
func (c *Client) Push(ctx context.Context, series []Series) error {
	body := snappy.Encode(nil, Encode(series))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "cloudtest")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("remote write to %s: %s: %s", c.URL, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
