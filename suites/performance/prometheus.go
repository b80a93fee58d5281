package performance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

// PromUtilization asks a Prometheus server for the target's CPU and memory
// while the load runs: CPU is a query giving percent of one core, Memory a
// query giving bytes.
type PromUtilization struct {
	URL, CPU, Memory string
}

var utilizationSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "prometheus", Required: true}, {Name: "cpu"}, {Name: "memory"},
}}

func decodeUtilization(b *hcl.Block, dc *config.DecodeContext) (*PromUtilization, hcl.Diagnostics) {
	content, diags := b.Body.Content(utilizationSchema)
	u := &PromUtilization{}
	var d hcl.Diagnostics
	for name, dst := range map[string]*string{"prometheus": &u.URL, "cpu": &u.CPU, "memory": &u.Memory} {
		if a, ok := content.Attributes[name]; ok {
			*dst, d = dc.String(a)
			diags = append(diags, d...)
		}
	}
	if u.CPU == "" && u.Memory == "" && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Nothing to measure",
			Detail:  "A utilization block needs a cpu query (percent of one core), a memory query (bytes), or both.",
			Subject: b.DefRange.Ptr()})
	}
	return u, diags
}

// promSampler runs the queries once a second.
type promSampler struct {
	u      *PromUtilization
	client *http.Client
	mu     sync.Mutex
	cpu    []float64
	rss    []float64
	errs   []string
	halt   func()
}

func startPromSampler(u *PromUtilization) *promSampler {
	p := &promSampler{u: u, client: &http.Client{Timeout: 2 * time.Second}}
	p.halt = everySecond(p.sample)
	return p
}

func (p *promSampler) sample() {
	take := func(q string, dst *[]float64, scale float64) {
		if q == "" {
			return
		}
		v, err := promQuery(context.Background(), p.client, p.u.URL, q)
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			if len(p.errs) < 3 {
				p.errs = append(p.errs, err.Error())
			}
			return
		}
		*dst = append(*dst, v*scale)
	}
	take(p.u.CPU, &p.cpu, 1)
	take(p.u.Memory, &p.rss, 1.0/(1<<20))
}

func (p *promSampler) finish() *result.Utilization {
	p.halt()
	p.mu.Lock()
	defer p.mu.Unlock()
	u := &result.Utilization{Source: "Prometheus at " + p.u.URL, Samples: max(len(p.cpu), len(p.rss))}
	u.CPUMean, u.CPUMax = meanMax(p.cpu)
	u.RSSMeanMB, u.RSSMaxMB = meanMax(p.rss)
	if u.Samples == 0 {
		u.Unmeasured = "no query gave a value"
		if len(p.errs) > 0 {
			u.Unmeasured += ": " + p.errs[0]
		}
	}
	return u
}

// promQuery runs an instant query and returns the first value it gives.
func promQuery(ctx context.Context, c *http.Client, base, q string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("query %q: %w", q, err)
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("query %q: %s", q, body.Error)
	}
	var raw []any
	switch body.Data.ResultType {
	case "vector":
		var vec []struct {
			Value []any `json:"value"`
		}
		if err := json.Unmarshal(body.Data.Result, &vec); err != nil || len(vec) == 0 {
			return 0, fmt.Errorf("query %q gave no series", q)
		}
		raw = vec[0].Value
	case "scalar":
		if err := json.Unmarshal(body.Data.Result, &raw); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("query %q gave a %s, not a vector or a scalar", q, body.Data.ResultType)
	}
	if len(raw) != 2 {
		return 0, fmt.Errorf("query %q: unexpected value %v", q, raw)
	}
	s, _ := raw[1].(string)
	return strconv.ParseFloat(s, 64)
}
