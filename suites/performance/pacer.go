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

// schedule is the open model's schedule of the load block: stages (a ramp
// is one), a sine, or a constant rate.
func (l Load) schedule() schedule {
	if !l.seg.whole() {
		whole := l
		whole.seg = segment{}
		return segmented{whole: whole.schedule(), seg: l.seg}
	}
	switch {
	case len(l.Stages) > 0:
		return newStages(0, l.Stages)
	case l.Pacer == "sine":
		return newSine(l.Rate, l.Amplitude, l.Period)
	}
	return newConstant(l.Rate)
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

// stages is a schedule of linear segments, as in k6's ramping arrival
// rate: each stage goes from the previous rate to its own over its
// duration (a ramp is a first stage from zero). After the last stage the
// rate stays where it ended.
type stages struct {
	points []stagePoint
}

type stagePoint struct {
	at   time.Duration // end of the stage, from the start
	rate float64       // rate reached at its end
	hits float64       // hits due by its end
}

// Stage is one segment of a schedule.
type Stage struct {
	Duration time.Duration
	Rate     float64
}

func newStages(from float64, list []Stage) stages {
	st := stages{points: []stagePoint{{rate: from}}}
	for _, s := range list {
		prev := st.points[len(st.points)-1]
		st.points = append(st.points, stagePoint{
			at: prev.at + s.Duration, rate: s.Rate,
			hits: prev.hits + (prev.rate+s.Rate)/2*s.Duration.Seconds(),
		})
	}
	return st
}

func (st stages) hits(t time.Duration) float64 {
	for i := 1; i < len(st.points); i++ {
		a, b := st.points[i-1], st.points[i]
		if t <= b.at {
			dt := (t - a.at).Seconds()
			span := (b.at - a.at).Seconds()
			r := a.rate
			if span > 0 {
				r = a.rate + (b.rate-a.rate)*dt/span
			}
			return a.hits + (a.rate+r)/2*dt
		}
	}
	last := st.points[len(st.points)-1]
	return last.hits + last.rate*(t-last.at).Seconds()
}

func (st stages) expected(d time.Duration) float64 { return st.hits(d) }

// due is when the cumulative count reaches n+1.
func (st stages) due(n uint64) time.Duration { return bisect(st.hits, float64(n+1)) }

// Pace follows vegeta's Pacer contract: how long to wait before the next
// hit (zero or less: send it now).
func (st stages) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	return st.due(hits) - elapsed, false
}

// Rate is the rate at elapsed, in hits per second.
func (st stages) Rate(elapsed time.Duration) float64 {
	h := st.hits(elapsed)
	return (st.hits(elapsed+time.Millisecond) - h) * 1000
}

// sine oscillates around a mean rate (vegeta's SinePacer shape, starting
// at the mean and rising); due and Pace come from its closed-form count.
type sine struct {
	vegeta.SinePacer
}

func newSine(mean, amp float64, period time.Duration) sine {
	return sine{vegeta.SinePacer{Period: period, Mean: vegeta.Rate{Freq: int(math.Round(mean * 1000)), Per: 1000 * time.Second},
		Amp: vegeta.Rate{Freq: int(math.Round(amp * 1000)), Per: 1000 * time.Second}, StartAt: vegeta.MeanUp}}
}

func (s sine) rates() (mean, amp float64) {
	return float64(s.Mean.Freq) / s.Mean.Per.Seconds(), float64(s.Amp.Freq) / s.Amp.Per.Seconds()
}

// hits is the integral of mean + amp·sin(2πt/period).
func (s sine) hits(t time.Duration) float64 {
	mean, amp := s.rates()
	p := s.Period.Seconds()
	return mean*t.Seconds() + amp*p/(2*math.Pi)*(1-math.Cos(2*math.Pi*t.Seconds()/p))
}

func (s sine) expected(d time.Duration) float64 { return s.hits(d) }

func (s sine) due(n uint64) time.Duration { return bisect(s.hits, float64(n+1)) }

func (s sine) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	return s.due(hits) - elapsed, false
}

// bisect finds when a growing count reaches want, to the microsecond.
func bisect(count func(time.Duration) float64, want float64) time.Duration {
	lo, hi := time.Duration(0), time.Second
	for count(hi) < want {
		if hi > 1000*time.Hour {
			return hi
		}
		hi *= 2
	}
	for hi-lo > time.Microsecond {
		mid := lo + (hi-lo)/2
		if count(mid) < want {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
