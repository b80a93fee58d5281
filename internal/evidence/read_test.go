package evidence

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/deploy"
)

func TestStreamedEd25519AgreesWithTheStandardLibrary(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	for i, size := range []int{0, 1, 63, 64, 1000, 100_000} {
		msg := make([]byte, size)
		rand.Read(msg)
		p := filepath.Join(dir, "m")
		os.WriteFile(p, msg, 0o644)
		good := ed25519.Sign(key, msg)
		bad := append([]byte(nil), good...)
		bad[i%64] ^= 1 << (i % 8)
		short := good[:63]
		for name, sig := range map[string][]byte{"good": good, "flipped": bad, "short": short} {
			got, err := verifyEd25519File(context.Background(), pub, p, sig)
			if err != nil {
				t.Fatal(err)
			}
			if want := ed25519.Verify(pub, msg, sig); got != want {
				t.Fatalf("%d bytes, %s signature: streamed says %v, crypto/ed25519 says %v", size, name, got, want)
			}
		}
	}
}

func TestSpecialEvidenceFilesAreRefusedAtOnce(t *testing.T) {
	doc := []byte("certificate ACME-1\n")
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	pipe := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		extra string
		file  string
		state string
	}{
		{"a signature of /dev/zero", `  signature = "/dev/zero"` + "\n" + `  public_key = "k.pem"`, "cert.txt", deploy.BadSig},
		{"a public key of /dev/zero", `  signature = "cert.sig"` + "\n" + `  public_key = "/dev/zero"`, "cert.txt", deploy.BadSig},
		{"a file that is a FIFO", "", pipe, deploy.Missing},
		{"a file of /dev/zero", "", "/dev/zero", deploy.Missing},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			done := make(chan deploy.EvidenceItem, 1)
			go func() {
				b := strings.Replace(block(digest(doc), tt.extra), `file        = "cert.txt"`, `file        = "`+tt.file+`"`, 1)
				done <- verifyOneBlock(t, map[string][]byte{"cert.txt": doc, "cert.sig": ed25519.Sign(key, doc), "k.pem": pemPublic(t, pub)}, b)
			}()
			select {
			case got := <-done:
				if got.State != tt.state || !strings.Contains(got.Message, "not a regular file") || !strings.Contains(got.Message, "ev.hcl:") {
					t.Fatalf("state %s, message %q; want %s, not a regular file, and the block's line", got.State, got.Message, tt.state)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("verifying did not finish within 10s")
			}
		})
	}
}

// A 256 MiB evidence file (sparse) with a signature is streamed: the old
// code read it whole for the signature (256 MiB allocated; 1.1 GB RSS for
// 1 GiB).
func TestALargeSignedEvidenceFileIsNotReadIntoMemory(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(256 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	h := sha256.New()
	in, _ := os.Open(big)
	io.Copy(h, in)
	in.Close()
	sum := h.Sum(nil)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sig, _ := ecdsa.SignASN1(rand.Reader, ecKey, sum)
	b := strings.Replace(block(digest(nil), "  signature = \"cert.sig\"\n  public_key = \"k.pem\""), `file        = "cert.txt"`, `file        = "`+big+`"`, 1)
	b = strings.Replace(b, digest(nil), hex.EncodeToString(sum), 1)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got := verifyOneBlock(t, map[string][]byte{"cert.sig": sig, "k.pem": pemPublic(t, &ecKey.PublicKey)}, b)
	runtime.ReadMemStats(&after)
	if got.State != deploy.Present {
		t.Fatalf("state %s: %s", got.State, got.Message)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Fatalf("verifying and keeping a 256 MiB file allocated %d MiB", alloc>>20)
	}
}

func TestAnInterruptStopsADigest(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.bin")
	f, _ := os.Create(big)
	f.Truncate(64 << 30)
	f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := digestContext(ctx, big)
	if err != context.Canceled {
		t.Fatalf("digest of 64 GiB returned %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the digest went on for %s after the interrupt", d)
	}
}
