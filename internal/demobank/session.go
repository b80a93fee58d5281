package demobank

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sessionTTL is how long a token is honoured after login.
const sessionTTL = time.Hour

// sessions issues bearer tokens signed with HMAC-SHA256: user and expiry
// in the token, no session table, so that a bank killed and started again
// (a reliability experiment) still accepts the tokens it issued. The key
// lives in the data directory (in memory only when there is none).
type sessions struct{ key []byte }

const sessionKeyFile = "session.key"

func newSessions(dataDir, keyFile string) (*sessions, error) {
	if keyFile != "" {
		key, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("the session key: %w", err)
		}
		if len(key) < 32 {
			return nil, fmt.Errorf("the session key %s has %d bytes, want at least 32", keyFile, len(key))
		}
		return &sessions{key: key}, nil
	}
	if dataDir == "" {
		key := make([]byte, 32)
		rand.Read(key)
		return &sessions{key: key}, nil
	}
	path := filepath.Join(dataDir, sessionKeyFile)
	key, err := os.ReadFile(path)
	if err == nil && len(key) == 32 {
		return &sessions{key: key}, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	key = make([]byte, 32)
	rand.Read(key)
	// Written to a temporary file and renamed, so a crash never leaves a
	// torn key behind.
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return nil, err
	}
	return &sessions{key: key}, os.Rename(tmp, path)
}

func (s *sessions) sign(payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}

// issue returns a token for user, valid for sessionTTL from now.
func (s *sessions) issue(user string, now time.Time) string {
	payload := user + "|" + strconv.FormatInt(now.Add(sessionTTL).Unix(), 10)
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + s.sign(payload)
}

// user returns the user of a valid, unexpired token.
func (s *sessions) user(tok string, now time.Time) (string, bool) {
	enc, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || !hmac.Equal([]byte(sig), []byte(s.sign(string(raw)))) {
		return "", false
	}
	user, exp, ok := strings.Cut(string(raw), "|")
	secs, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || now.Unix() >= secs {
		return "", false
	}
	return user, true
}
