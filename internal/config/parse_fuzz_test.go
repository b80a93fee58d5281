package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseDuration holds ParseDuration to its promises for any text: it
// never panics, never returns a negative duration, reads "Nd" as N whole
// days without wrapping around, and otherwise agrees with time.ParseDuration
// wherever that accepts a duration that is not negative.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"250ms", "1h30m", "2d", "+2d", "-0s", "-1d", "106751d", "106752d", "213504d",
		"99999999999999999999d", "2562048h", "9223372036854775807ns", "9223372036854775808ns", "1.5d", "d", ".5s", " 3s ", "1µs", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		u := strings.TrimPrefix(strings.TrimSpace(s), "+")
		if days, ok := strings.CutSuffix(u, "d"); ok {
			n, err := strconv.ParseInt(days, 10, 64)
			if err != nil || d != time.Duration(n)*24*time.Hour || d/(24*time.Hour) != time.Duration(n) {
				t.Fatalf("ParseDuration(%q) = %v, not %s whole days", s, d, days)
			}
			return
		}
		if want, err := time.ParseDuration(u); err != nil || (want != d && !(want == 0 && d == 0)) {
			t.Fatalf("ParseDuration(%q) = %v, time.ParseDuration says %v, %v", s, d, want, err)
		}
	})
}

// FuzzContainerPort holds validContainerPort to "PORT" or "PORT/tcp|udp"
// with PORT a number from 1 to 65535 written without sign or leading zero.
func FuzzContainerPort(f *testing.F) {
	for _, s := range []string{"8080", "8080/tcp", "53/udp", "0", "65535", "65536", "080", "+80", "-1", "80/sctp", "80/", "/tcp", " 80", "8080/tcp/x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		num, proto, _ := strings.Cut(s, "/")
		n, err := strconv.Atoi(num)
		want := err == nil && strconv.Itoa(n) == num && n >= 1 && n <= 65535 && (proto == "" && !strings.Contains(s, "/") || proto == "tcp" || proto == "udp")
		if got := validContainerPort(s); got != want {
			t.Fatalf("validContainerPort(%q) = %v, want %v", s, got, want)
		}
	})
}
