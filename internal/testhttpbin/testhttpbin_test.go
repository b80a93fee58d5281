package testhttpbin

import (
	"io"
	"strings"
	"testing"
)

func TestStartServesHTTPBinOnLoopback(t *testing.T) {
	base := Start(t)
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("base URL %q is not on loopback", base)
	}
	resp := Get(t, base+"/get?probe=1")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"probe"`) {
		t.Fatalf("GET /get: %d %s", resp.StatusCode, body)
	}
}

func TestAMissingBinaryNamesTheInstallCommand(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOPATH", t.TempDir())
	t.Setenv("GOBIN", "")
	t.Setenv("HOME", t.TempDir())
	_, err := Binary()
	if err == nil || !strings.Contains(err.Error(), Install) {
		t.Fatalf("Binary() = %v, want an error naming %q", err, Install)
	}
}
