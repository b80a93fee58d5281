// Package demobank is a small but real banking API that every cloudtest
// example runs against: login with a token, accounts, atomic transfers with
// idempotency keys, and an append-only ledger whose records can be read back.
// State is kept in an append-only journal (fsync before the answer, one
// fsync shared by concurrent writes); flags make it lose writes, answer
// slowly or drop its security headers on purpose, for the examples to find.
package demobank

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configure a bank.
type Options struct {
	// DataDir holds the journal; empty keeps the state in memory only.
	DataDir string
	// WriteBehind buffers acknowledged writes and flushes them at this
	// interval: a kill loses them (for RPO demonstrations).
	WriteBehind time.Duration
	// SlowPaths adds latency to requests whose path starts with a key.
	SlowPaths map[string]time.Duration
	// Insecure drops the security headers, the login throttle and the
	// object-level authorization, and serves an unauthenticated /admin/users.
	Insecure bool
	// Log receives one JSON line per request.
	Log io.Writer
	// SessionKeyFile holds the key that signs tokens (a Kubernetes Secret
	// mounted as a file): tokens then outlive the data directory, as
	// they do when a pod without a volume is re-created. Empty: the key
	// is kept in DataDir.
	SessionKeyFile string
}

// Account is a customer's account; money is kept in cents.
type Account struct {
	ID      int    `json:"id"`
	Owner   string `json:"owner"`
	Balance int64  `json:"-"`
}

// Transfer moves money between two accounts.
type Transfer struct {
	ID     string    `json:"id"`
	From   int       `json:"from"`
	To     int       `json:"to"`
	Amount int64     `json:"amount_cents"`
	Time   time.Time `json:"time"`
}

// LedgerEntry is one record of the append-only ledger.
type LedgerEntry struct {
	ID   string          `json:"id"`
	Seq  int64           `json:"seq"`
	User string          `json:"user"`
	Data json.RawMessage `json:"data"`
	Time time.Time       `json:"time"`
}

type user struct {
	name, password string
	account        int
}

var users = []user{
	{"alice", "wonderland", 1},
	{"bob", "builder", 2},
	{"carol", "caterpillar", 3},
}

var openingBalances = map[int]int64{1: 100000, 2: 50000, 3: 25000}

// Bank is the demo bank's state and HTTP handler.
type Bank struct {
	opts Options
	j    *journal

	mu        sync.Mutex
	accounts  map[int]*Account
	transfers map[string]*Transfer
	idem      map[string]*Transfer // idempotency key -> transfer
	ledger    []*LedgerEntry
	ledgerIdx map[string]*LedgerEntry

	// sessions signs and checks bearer tokens; its key is kept in the
	// data directory so that a restarted bank still honours them.
	sessions *sessions
	tokMu    sync.Mutex
	failures map[string][]time.Time

	// Defence state (the secure bank only): failed logins by address,
	// failures since stuffing from an address was last reported, and the
	// alert webhook.
	byAddr     map[string][]time.Time
	sinceAlert map[string]int
	webhook    string
	alerts     sync.WaitGroup

	logMu sync.Mutex
	stats *stats
	mux   *http.ServeMux
}

// New opens the bank, replaying its journal when DataDir is set.
func New(opts Options) (*Bank, error) {
	b := &Bank{
		opts: opts, accounts: map[int]*Account{}, transfers: map[string]*Transfer{},
		idem: map[string]*Transfer{}, ledgerIdx: map[string]*LedgerEntry{},
		failures: map[string][]time.Time{}, stats: newStats(),
		byAddr: map[string][]time.Time{}, sinceAlert: map[string]int{},
	}
	sess, err := newSessions(opts.DataDir, opts.SessionKeyFile)
	if err != nil {
		return nil, fmt.Errorf("preparing sessions: %w", err)
	}
	b.sessions = sess
	for _, u := range users {
		b.accounts[u.account] = &Account{ID: u.account, Owner: u.name, Balance: openingBalances[u.account]}
	}
	if opts.DataDir != "" {
		j, recs, err := openJournal(opts.DataDir, opts.WriteBehind)
		if err != nil {
			return nil, fmt.Errorf("opening the journal: %w", err)
		}
		b.j = j
		for _, r := range recs {
			b.apply(r)
		}
	}
	b.routes()
	return b, nil
}

func (b *Bank) apply(r record) {
	switch r.Op {
	case "transfer":
		t := r.Transfer
		b.accounts[t.From].Balance -= t.Amount
		b.accounts[t.To].Balance += t.Amount
		b.transfers[t.ID] = t
		if r.Key != "" {
			b.idem[r.Key] = t
		}
	case "ledger":
		b.ledger = append(b.ledger, r.Ledger)
		b.ledgerIdx[r.Ledger.ID] = r.Ledger
	}
}

// persist writes r to the journal (when there is one) before the caller
// applies it and answers.
func (b *Bank) persist(r record) error {
	if b.j == nil {
		return nil
	}
	return b.j.append(r)
}

// Close waits for alerts in flight (each bounded to two seconds), then
// flushes and closes the journal.
func (b *Bank) Close() error {
	b.alerts.Wait()
	if b.j == nil {
		return nil
	}
	return b.j.close()
}

// Handler serves the API.
func (b *Bank) Handler() http.Handler { return b }

func (b *Bank) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /metrics", b.metrics)
	m.HandleFunc("GET /openapi.json", serveOpenAPI)
	m.HandleFunc("POST /api/login", b.login)
	m.HandleFunc("GET /api/accounts", b.auth(b.listAccounts))
	m.HandleFunc("GET /api/accounts/{id}", b.auth(b.getAccount))
	m.HandleFunc("POST /api/transfers", b.auth(b.createTransfer))
	m.HandleFunc("GET /api/transfers/{id}", b.auth(b.getTransfer))
	m.HandleFunc("POST /api/ledger", b.auth(b.appendLedger))
	m.HandleFunc("GET /api/ledger/{id}", b.auth(b.getLedger))
	m.HandleFunc("GET /api/ledger", b.auth(b.listLedger))
	m.HandleFunc("GET /api/branches", b.findBranches)
	m.HandleFunc("PUT /api/alerts/webhook", b.auth(b.setWebhook))
	if b.opts.Insecure {
		m.HandleFunc("GET /admin/users", func(w http.ResponseWriter, r *http.Request) {
			var out []map[string]any
			for _, u := range users {
				out = append(out, map[string]any{"user": u.name, "account": u.account})
			}
			writeJSON(w, http.StatusOK, out)
		})
	}
	b.mux = m
}

type ctxUser struct{}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (b *Bank) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	b.stats.begin()
	for prefix, d := range b.opts.SlowPaths {
		if strings.HasPrefix(r.URL.Path, prefix) {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
			}
			break
		}
	}
	if !b.opts.Insecure {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
	} else {
		w.Header().Set("Server", "demobank/0.1 (Go)")
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	if !b.cors(sw, r) && !b.screen(sw, r) {
		b.mux.ServeHTTP(sw, r)
	}
	d := time.Since(start)
	b.stats.end(r.URL.Path, sw.status, d)
	if b.opts.Log != nil {
		u, _ := r.Context().Value(ctxUser{}).(string)
		b.logLine(map[string]any{"time": start.UTC().Format(time.RFC3339Nano), "remote": r.RemoteAddr, "method": r.Method,
			"path": r.URL.Path, "status": sw.status, "duration_ms": float64(d.Microseconds()) / 1000, "user": u})
	}
}

func (b *Bank) logLine(v map[string]any) {
	line, _ := json.Marshal(v)
	b.logMu.Lock()
	defer b.logMu.Unlock()
	b.opts.Log.Write(append(line, '\n'))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func newID(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (b *Bank) login(w http.ResponseWriter, r *http.Request) {
	var req struct{ User, Password string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "the body must be JSON: {\"user\": ..., \"password\": ...}")
		return
	}
	now := time.Now()
	if !b.opts.Insecure {
		b.tokMu.Lock()
		recent := b.failures[req.User][:0]
		for _, t := range b.failures[req.User] {
			if now.Sub(t) < time.Minute {
				recent = append(recent, t)
			}
		}
		b.failures[req.User] = recent
		throttled := len(recent) >= 5
		b.tokMu.Unlock()
		if throttled {
			b.alert("login_throttled", r.RemoteAddr, fmt.Sprintf("user %q: %d failed logins within a minute", req.User, len(recent)))
			w.Header().Set("Retry-After", "60")
			fail(w, http.StatusTooManyRequests, "too many failed logins; try again later")
			return
		}
	}
	known := users
	if b.opts.Insecure {
		// The insecure bank kept its installer's administrator account.
		known = append(known[:len(known):len(known)], user{"admin", "admin", 0})
	}
	for _, u := range known {
		if u.name == req.User && u.password == req.Password {
			tok := b.sessions.issue(u.name, now)
			b.tokMu.Lock()
			delete(b.failures, u.name)
			b.tokMu.Unlock()
			writeJSON(w, http.StatusOK, map[string]string{"token": tok, "user": u.name})
			return
		}
	}
	b.tokMu.Lock()
	b.failures[req.User] = append(b.failures[req.User], now)
	b.tokMu.Unlock()
	if b.opts.Log != nil {
		b.logLine(map[string]any{"time": now.UTC().Format(time.RFC3339Nano), "event": "login_failed", "user": req.User, "remote": r.RemoteAddr})
	}
	b.noteFailedLogin(r, now)
	fail(w, http.StatusUnauthorized, "wrong user or password")
}

func (b *Bank) auth(next func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		u, found := b.sessions.user(tok, time.Now())
		if !ok || !found {
			w.Header().Set("WWW-Authenticate", "Bearer")
			fail(w, http.StatusUnauthorized, "a valid bearer token is required")
			return
		}
		if !b.opts.Insecure {
			w.Header().Set("Cache-Control", "no-store")
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxUser{}, u)), u)
	}
}

func cents(c int64) float64 { return float64(c) / 100 }

func (b *Bank) accountJSON(a *Account) map[string]any {
	return map[string]any{"id": a.ID, "owner": a.Owner, "balance": cents(a.Balance), "currency": "CNY"}
}

func (b *Bank) listAccounts(w http.ResponseWriter, r *http.Request, u string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, id := range sortedIDs(b.accounts) {
		if a := b.accounts[id]; a.Owner == u {
			out = append(out, b.accountJSON(a))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func sortedIDs(m map[int]*Account) []int {
	ids := make([]int, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

func (b *Bank) getAccount(w http.ResponseWriter, r *http.Request, u string) {
	var id int
	if _, err := fmt.Sscanf(r.PathValue("id"), "%d", &id); err != nil {
		fail(w, http.StatusNotFound, "no such account")
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.accounts[id]
	if !ok {
		fail(w, http.StatusNotFound, "no such account")
		return
	}
	if a.Owner != u && !b.opts.Insecure {
		fail(w, http.StatusForbidden, "this account belongs to another customer")
		return
	}
	writeJSON(w, http.StatusOK, b.accountJSON(a))
}

func (b *Bank) createTransfer(w http.ResponseWriter, r *http.Request, u string) {
	var req struct {
		From, To int
		Amount   float64
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "the body must be JSON: {\"from\": 1, \"to\": 2, \"amount\": 10.50}")
		return
	}
	amount := int64(req.Amount*100 + 0.5)
	key := r.Header.Get("Idempotency-Key")
	b.mu.Lock()
	defer b.mu.Unlock()
	if t, ok := b.idem[key]; ok && key != "" {
		writeJSON(w, http.StatusCreated, b.transferJSON(t))
		return
	}
	from, ok1 := b.accounts[req.From]
	_, ok2 := b.accounts[req.To]
	switch {
	case !ok1 || !ok2:
		fail(w, http.StatusNotFound, "no such account")
		return
	case from.Owner != u:
		fail(w, http.StatusForbidden, "you can only transfer from your own account")
		return
	case amount <= 0 || req.From == req.To:
		fail(w, http.StatusUnprocessableEntity, "the amount must be positive and the accounts different")
		return
	case from.Balance < amount:
		fail(w, http.StatusUnprocessableEntity, "insufficient funds")
		return
	}
	t := &Transfer{ID: newID("t-"), From: req.From, To: req.To, Amount: amount, Time: time.Now().UTC()}
	rec := record{Op: "transfer", Transfer: t, Key: key}
	// Holding the lock across the journal write keeps balances and the
	// journal in the same order; group commit still batches other writers
	// (ledger appends) into the same fsync.
	if err := b.persist(rec); err != nil {
		fail(w, http.StatusInternalServerError, "could not store the transfer")
		return
	}
	b.apply(rec)
	writeJSON(w, http.StatusCreated, b.transferJSON(t))
}

func (b *Bank) transferJSON(t *Transfer) map[string]any {
	return map[string]any{"id": t.ID, "from": t.From, "to": t.To, "amount": cents(t.Amount),
		"balance": cents(b.accounts[t.From].Balance), "time": t.Time}
}

func (b *Bank) getTransfer(w http.ResponseWriter, r *http.Request, u string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.transfers[r.PathValue("id")]
	if !ok {
		fail(w, http.StatusNotFound, "no such transfer")
		return
	}
	writeJSON(w, http.StatusOK, b.transferJSON(t))
}

func (b *Bank) appendLedger(w http.ResponseWriter, r *http.Request, u string) {
	var data json.RawMessage
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&data); err != nil || len(data) == 0 || data[0] != '{' {
		fail(w, http.StatusBadRequest, "the body must be a JSON object")
		return
	}
	b.mu.Lock()
	e := &LedgerEntry{ID: newID("l-"), Seq: int64(len(b.ledger)) + 1, User: u, Data: data, Time: time.Now().UTC()}
	// The sequence number is taken under the lock; the entry becomes
	// visible only after it is durable.
	b.ledger = append(b.ledger, nil)
	b.mu.Unlock()
	began := time.Now()
	err := b.persist(record{Op: "ledger", Ledger: e})
	// Full-link tests break latency down by hop: the time spent making the
	// record durable is the journal's.
	w.Header().Set("Server-Timing", fmt.Sprintf("journal;dur=%.3f", float64(time.Since(began).Microseconds())/1000))
	b.mu.Lock()
	b.ledger[e.Seq-1] = e
	if err == nil {
		b.ledgerIdx[e.ID] = e
	}
	b.mu.Unlock()
	if err != nil {
		fail(w, http.StatusInternalServerError, "could not store the record")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": e.ID, "seq": e.Seq})
}

func (b *Bank) getLedger(w http.ResponseWriter, r *http.Request, u string) {
	b.mu.Lock()
	e, ok := b.ledgerIdx[r.PathValue("id")]
	b.mu.Unlock()
	if !ok {
		fail(w, http.StatusNotFound, "no such ledger record")
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (b *Bank) listLedger(w http.ResponseWriter, r *http.Request, u string) {
	var after, limit int64 = 0, 100
	fmt.Sscanf(r.URL.Query().Get("after"), "%d", &after)
	fmt.Sscanf(r.URL.Query().Get("limit"), "%d", &limit)
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []*LedgerEntry{}
	for _, e := range b.ledger {
		if e != nil && e.Seq > after && int64(len(out)) < limit {
			if _, durable := b.ledgerIdx[e.ID]; durable {
				out = append(out, e)
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// Server is a bank listening on an address.
type Server struct {
	URL  string
	Bank *Bank
	srv  *http.Server
	once sync.Once
	err  error
}

// Start opens a bank and serves it on addr ("127.0.0.1:0" picks a free
// port) until Close or until ctx ends.
func Start(ctx context.Context, addr string, opts Options) (*Server, error) {
	bank, err := New(opts)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		bank.Close()
		return nil, err
	}
	s := &Server{URL: "http://" + l.Addr().String(), Bank: bank,
		srv: &http.Server{Handler: bank, ReadHeaderTimeout: 10 * time.Second}}
	go s.srv.Serve(l)
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	return s, nil
}

// Close stops serving (waiting up to five seconds for requests in flight)
// and closes the journal.
func (s *Server) Close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := s.srv.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = s.srv.Close()
		}
		s.err = errors.Join(err, s.Bank.Close())
	})
	return s.err
}
