package step

import (
	"strconv"
	"strings"
)

// parseServerTiming reads W3C Server-Timing headers
// ("db;dur=53.2, app;desc=\"render\";dur=47") into durations by name;
// metrics without a dur are left out.
func parseServerTiming(values []string) map[string]float64 {
	var out map[string]float64
	for _, v := range values {
		for _, metric := range strings.Split(v, ",") {
			parts := strings.Split(metric, ";")
			name := strings.TrimSpace(parts[0])
			if name == "" {
				continue
			}
			for _, p := range parts[1:] {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(k, "dur") {
					continue
				}
				d, err := strconv.ParseFloat(strings.Trim(val, `"`), 64)
				if err != nil {
					continue
				}
				if out == nil {
					out = map[string]float64{}
				}
				out[name] += d
			}
		}
	}
	return out
}
