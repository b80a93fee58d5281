package demobank

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestATokenOutlivesARestartButNotItsExpiryOrAForgery(t *testing.T) {
	dir := t.TempDir()
	_, first := startBank(t, Options{DataDir: dir})
	alice := login(t, first, "alice", "wonderland")

	// The same data directory, a new process's worth of state.
	_, second := startBank(t, Options{DataDir: dir})
	alice.url = second
	if st, body, _ := alice.do("GET", "/api/accounts/1", nil); st != 200 {
		t.Fatalf("a token after a restart gave %d %v, want 200", st, body)
	}

	// Another data directory has another key.
	_, other := startBank(t, Options{DataDir: t.TempDir()})
	alice.url = other
	if st, _, _ := alice.do("GET", "/api/accounts/1", nil); st != 401 {
		t.Fatalf("a token of another bank gave %d, want 401", st)
	}

	s, err := newSessions(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	tok := s.issue("alice", time.Now())
	if u, ok := s.user(tok, time.Now().Add(sessionTTL-time.Minute)); !ok || u != "alice" {
		t.Fatalf("a fresh token: %q %v", u, ok)
	}
	if _, ok := s.user(tok, time.Now().Add(sessionTTL+time.Second)); ok {
		t.Fatal("an expired token was honoured")
	}
	enc, sig, _ := strings.Cut(tok, ".")
	forged := strings.Replace(enc, "YWxpY2", "Ym9i", 1) + "." + sig // alice -> bob, same signature
	if _, ok := s.user(forged, time.Now()); ok {
		t.Fatal("a forged token was honoured")
	}
}

// With a session key file (a mounted Secret), a bank that starts again on
// an empty data directory (a re-created pod without a volume) still
// honours the tokens, though the data is gone; a short key is refused.
func TestASessionKeyFileOutlivesTheDataDirectory(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	os.WriteFile(key, []byte(strings.Repeat("k", 32)), 0o600)
	_, first := startBank(t, Options{DataDir: t.TempDir(), SessionKeyFile: key})
	alice := login(t, first, "alice", "wonderland")
	_, second := startBank(t, Options{DataDir: t.TempDir(), SessionKeyFile: key})
	alice.url = second
	if st, body, _ := alice.do("GET", "/api/accounts/1", nil); st != 200 {
		t.Fatalf("a token on a new data directory with the same key gave %d %v, want 200", st, body)
	}
	os.WriteFile(key, []byte("short"), 0o600)
	if _, err := New(Options{SessionKeyFile: key}); err == nil || !strings.Contains(err.Error(), "want at least 32") {
		t.Fatalf("a 5-byte key: %v", err)
	}
}
