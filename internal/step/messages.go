package step

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FormatDuration prints a duration for people: milliseconds under a
// second ("0.42ms", "12ms", "606ms"), seconds above ("1.002s", "90s"),
// never nanoseconds.
func FormatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + FormatDuration(-d)
	case d > 0 && d < 10*time.Microsecond:
		// Below what two decimals of a millisecond show ("1ns" read "0ms").
		return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', -1, 64) + "µs"
	case d < 10*time.Millisecond:
		ms := strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
		return strings.TrimSuffix(strings.TrimRight(ms, "0"), ".") + "ms"
	case d < time.Second:
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + "ms"
	default:
		return strconv.FormatFloat(d.Round(time.Millisecond).Seconds(), 'f', -1, 64) + "s"
	}
}

func joinInts(codes []int) string {
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ", ")
}

// headerValue is a header's value as a failure prints it.
func headerValue(name, v string) string {
	if v == "" {
		return "no " + name + " header"
	}
	return strconv.Quote(v)
}

// jsonText prints a value of a JSON document as JSON, so that 13 and "13"
// differ on the page.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
