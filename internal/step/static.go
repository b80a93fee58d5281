package step

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Static is an HTTP step that is the same for every request: no captures,
// no data, no assertion beyond the status. A load generator can send it
// through a fast path (vegeta's attacker) without evaluating anything per
// request.
type Static struct {
	Method, URL string
	Header      http.Header
	Body        []byte
	// Statuses that count as success; empty means any answer.
	Statuses []int
	Client   *http.Client
	// Timeout is the step's.
	Timeout time.Duration
	// lean is the target's lean transport, when it has one.
	lean *leanTransport
	// parsed is URL, parsed once.
	parsed parsedURL
}

// Static returns the step as a Static request, or why it cannot be one.
func (s *Step) Static(env *Env) (*Static, string) {
	switch {
	case s.HTTP == nil:
		return nil, "not an http step"
	case len(s.Asserts) > 0 || len(s.Captures) > 0 || s.Eventually != nil:
		return nil, "it has assert, capture or eventually blocks"
	case s.Expect != nil && (s.Expect.Headers != nil || s.Expect.HeadersMatch != nil || s.Expect.JSON != nil ||
		s.Expect.JSONExists != nil || s.Expect.BodyContains != nil || s.Expect.BodyMatch != nil || s.Expect.MaxDuration > 0 || s.Expect.JSONSchema != nil || s.Expect.OpenAPI):
		return nil, "it expects more than a status"
	}
	for _, e := range s.HTTP.exprs() {
		for _, tr := range e.Variables() {
			switch tr.RootName() {
			case "var", "local", "target":
			default:
				return nil, fmt.Sprintf("it uses %s, which changes from one request to the next", tr.RootName())
			}
		}
	}
	// Build the request once, exactly as a normal run would.
	ectx := env.evalContext(map[string]cty.Value{}, cty.NilVal, nil)
	req, body, err := s.HTTP.build(context.Background(), env, ectx)
	if err != nil {
		return nil, err.Error()
	}
	st := &Static{Method: req.Method, URL: req.URL.String(), Header: req.Header, Body: body, Timeout: s.HTTP.Timeout,
		Client: &http.Client{Transport: env.roundTripper(req.URL.Host), Timeout: s.HTTP.Timeout}}
	st.parsed.str = st.URL
	if t := env.target(req.URL.Host); t.lean != nil {
		// The timeout as each request's connection deadline: http.Client's
		// Timeout runs a goroutine and a timer per request with a
		// transport not its own.
		st.Client = &http.Client{Transport: t.lean.Deadline(time.Time{}, s.HTTP.Timeout)}
		st.lean = t.lean
	}
	if !s.HTTP.FollowRedirects {
		st.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	} else if limit := s.HTTP.MaxRedirects; limit != defaultMaxRedirects {
		st.Client.CheckRedirect = func(next *http.Request, via []*http.Request) error {
			if len(via) > limit {
				return &tooManyRedirects{limit: limit, location: next.URL.Redacted()}
			}
			return nil
		}
	}
	if s.Expect != nil && s.Expect.Status != nil {
		v, diags := s.Expect.Status.Value(ectx)
		if diags.HasErrors() {
			return nil, diagError(diags).Error()
		}
		codes, ok := intList(v)
		if !ok {
			return nil, "expect.status is not a number or a list of numbers"
		}
		st.Statuses = codes
	}
	return st, ""
}

// Sent is what one request of a Static gave.
type Sent struct {
	Code, BytesIn int
	// ServerTiming holds the answer's Server-Timing durations (ms) by name.
	ServerTiming map[string]float64
}

// request is the Static's request with ctx and header as its own.
func (s *Static) request(ctx context.Context, header http.Header) (*http.Request, error) {
	if len(s.Body) == 0 {
		return s.parsed.request(ctx, s.Method, header)
	}
	req, err := http.NewRequestWithContext(ctx, s.Method, s.URL, bytes.NewReader(s.Body))
	if err == nil {
		req.Header = header
	}
	return req, err
}

// A StaticUser sends a Static's request again and again, one at a time,
// as one user (or worker) of a load does: the request is made once, and
// sent each time with Header as it is then (the Static's header, and what
// the caller sets in it before each Send).
type StaticUser struct {
	Header http.Header
	s      *Static
	ctx    context.Context
	req    *http.Request // made once, on the lean path with no body
}

// User is a StaticUser of the Static's request under ctx.
func (s *Static) User(ctx context.Context) *StaticUser {
	h := s.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	return &StaticUser{Header: h, s: s, ctx: ctx}
}

// Send sends the request once and reads the answer's body to its end,
// counting its bytes. The error is worded as a step's (method, redacted
// URL, what went wrong; a timeout names the step's); it is not redacted.
func (u *StaticUser) Send() (Sent, error) {
	s := u.s
	req := u.req
	if req == nil {
		var err error
		if req, err = s.request(u.ctx, u.Header); err != nil {
			return Sent{}, err
		}
		// The lean transport writes the request before it reads the
		// answer and keeps nothing of it once the body is read (do
		// reads it to its end): the same request can go again. The
		// http.Client path, and a body, need a new one each time.
		if s.lean != nil && len(s.Body) == 0 {
			u.req = req
		}
	}
	return s.do(req)
}

// do sends req and reads the answer's body to its end.
func (s *Static) do(req *http.Request) (Sent, error) {
	var resp *http.Response
	var err error
	if s.lean != nil {
		var at time.Time
		if s.Timeout > 0 {
			at = time.Now().Add(s.Timeout)
		}
		resp, _, err = s.lean.send(req, nil, at, func() (*http.Client, *[]hop) { return s.Client, nil })
	} else {
		resp, err = s.Client.Do(req)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && req.Context().Err() == nil && s.Timeout > 0 {
			return Sent{}, stepTimeout(fmt.Sprintf("%s %s: no answer within the step's timeout of %s", s.Method, req.URL.Redacted(), s.Timeout))
		}
		var ue *url.Error
		if errors.As(err, &ue) && ue.Err != nil {
			err = ue.Err
		}
		return Sent{}, fmt.Errorf("%s %s: %w", s.Method, req.URL.Redacted(), err)
	}
	// Server-Timing is read before the body's end gives the connection
	// back.
	timing := parseServerTiming(resp.Header["Server-Timing"])
	n, err := discard(resp.Body, maxBody)
	resp.Body.Close()
	if err != nil {
		return Sent{Code: resp.StatusCode, BytesIn: int(n)}, fmt.Errorf("%s %s: reading the response: %w", s.Method, req.URL.Redacted(), err)
	}
	return Sent{Code: resp.StatusCode, BytesIn: int(n), ServerTiming: timing}, nil
}

// discardBuffers hold what discard reads.
var discardBuffers = sync.Pool{New: func() any { return new([8 << 10]byte) }}

// discard is io.Copy(io.Discard, io.LimitReader(r, max)) with a buffer of
// a pool and no reader of its own to allocate: it reads r to its end, or
// max bytes of it, and gives the count.
func discard(r io.Reader, max int64) (int64, error) {
	buf := discardBuffers.Get().(*[8 << 10]byte)
	defer discardBuffers.Put(buf)
	var n int64
	for n < max {
		b := buf[:min(int64(len(buf)), max-n)]
		m, err := r.Read(b)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
