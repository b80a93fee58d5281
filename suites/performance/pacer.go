package performance

import (
	"math"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// schedule is a vegeta pacer that also says when hit number n (from 0) was
// due, so that a hit sent late is measured from when it should have left,
// and how many hits a load of a given length should send.
type schedule interface {
	vegeta.Pacer
	due(n uint64) time.Duration
	expected(d time.Duration) float64
}

// constant is vegeta's ConstantPacer at a rate that may have a fraction.
type constant struct {
	vegeta.ConstantPacer
	rate float64
}

func newConstant(rate float64) constant {
	// Per one thousand seconds keeps three decimals of a fractional rate.
	return constant{ConstantPacer: vegeta.ConstantPacer{Freq: int(math.Round(rate * 1000)), Per: 1000 * time.Second}, rate: rate}
}

// due follows vegeta's ConstantPacer, which sends hit n at (n+1) intervals.
func (c constant) due(n uint64) time.Duration {
	return time.Duration(float64(n+1) / c.rate * float64(time.Second))
}

func (c constant) expected(d time.Duration) float64 { return c.rate * d.Seconds() }

// ramp rises linearly from zero to rate over the ramp time, then stays
// at rate.
type ramp struct {
	rate float64
	over time.Duration
}

func (r ramp) hits(t time.Duration) float64 {
	s, o := t.Seconds(), r.over.Seconds()
	if s <= o {
		return r.rate * s * s / (2 * o)
	}
	return r.rate*o/2 + r.rate*(s-o)
}

func (r ramp) expected(d time.Duration) float64 { return r.hits(d) }

// due is when the cumulative count reaches n+1, as with the constant pacer.
func (r ramp) due(n uint64) time.Duration {
	h, o := float64(n+1), r.over.Seconds()
	if h <= r.rate*o/2 {
		return time.Duration(math.Sqrt(2*o*h/r.rate) * float64(time.Second))
	}
	return time.Duration((o + (h-r.rate*o/2)/r.rate) * float64(time.Second))
}

// Pace follows vegeta's Pacer contract: how long to wait before the next
// hit (zero or less: send it now).
func (r ramp) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	return r.due(hits) - elapsed, false
}

// Rate is the rate at elapsed, in hits per second.
func (r ramp) Rate(elapsed time.Duration) float64 {
	if elapsed < r.over {
		return r.rate * elapsed.Seconds() / r.over.Seconds()
	}
	return r.rate
}
