package performance

import (
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// maxRate bounds rates and amplitudes: a million journeys a second is far
// beyond what one generator sends, and past it the pacers' arithmetic (and
// values such as 1e400, which reach the decoder as infinity) would fail
// during the run instead of on the attribute's line.
const maxRate = 1e6

// maxGoroutines bounds virtual users and workers, each a goroutine.
const maxGoroutines = 1_000_000

// limits collects the diagnostics of values that cannot be right, each on
// the line of its attribute.
type limits struct {
	attrs map[string]*hcl.Attribute
	diags hcl.Diagnostics
}

func (l *limits) bad(name, detail string) {
	a := l.attrs[name]
	if a == nil {
		return
	}
	l.diags = append(l.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
		Detail: detail, Subject: a.Expr.Range().Ptr()})
}

// rate checks a rate-like number: finite and within [low, maxRate], where
// low is exclusive when above is set.
func (l *limits) rate(name string, v float64, above bool) {
	if l.attrs[name] == nil {
		return
	}
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		l.bad(name, fmt.Sprintf("%s must be at most %.0f per second; found a number too large to be one.", name, maxRate))
	case v > maxRate:
		l.bad(name, fmt.Sprintf("%s must be at most %.0f per second; found %g.", name, maxRate, v))
	case above && v <= 0:
		l.bad(name, fmt.Sprintf("%s must be above zero; found %g.", name, v))
	case v < 0:
		l.bad(name, fmt.Sprintf("%s must not be negative; found %g.", name, v))
	}
}

// count checks a whole number that must be at least 1 when given, and at
// most most (0: no bound).
func (l *limits) count(name string, v, most int) {
	if l.attrs[name] == nil {
		return
	}
	switch {
	case v < 1:
		l.bad(name, fmt.Sprintf("%s must be a whole number of at least 1; found %d.", name, v))
	case most > 0 && v > most:
		l.bad(name, fmt.Sprintf("%s must be at most %d; found %d.", name, most, v))
	}
}

// positive checks a duration that means nothing when zero.
func (l *limits) positive(name string, d time.Duration) {
	if l.attrs[name] != nil && d <= 0 {
		l.bad(name, fmt.Sprintf("%s must be longer than zero, such as \"1s\"; found %s.", name, d))
	}
}

// nonNegative checks a number that may be zero.
func (l *limits) nonNegative(name string, v float64) {
	if l.attrs[name] == nil {
		return
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		l.bad(name, fmt.Sprintf("%s must be a number of at least zero; found %g.", name, v))
	}
}
