package performance

import (
	"github.com/cloudtest/cloudtest/internal/step"
)

// fastPath returns the request of a load that is one journey of one static
// HTTP step under an open model without a feed: the open model's workers
// send it built once (staticUser), without evaluating the step per request.
func (s *Suite) fastPath(env *step.Env) *step.Static {
	if s.Load.Rate == 0 {
		return nil
	}
	return s.static(env)
}

// static returns the request of a load that is one journey of one static
// HTTP step without a feed (nil for any other load).
func (s *Suite) static(env *step.Env) *step.Static {
	if s.Feed != nil || len(s.Journeys) != 1 || len(s.Journeys[0].Steps) != 1 || s.Journeys[0].Think[0] > 0 {
		return nil
	}
	st, _ := s.Journeys[0].Steps[0].Static(env)
	return st
}

// badStatus is vegeta's rule for a request without an expected status: an
// answer outside 200–399 is an error. Under load a step with no
// expect.status follows it on every engine.
func badStatus(code int) bool { return code < 200 || code >= 400 }
