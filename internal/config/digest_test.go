package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestFileDigestIsTheSHA256OfARegularFileOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "report.pdf")
	content := []byte("the vendor's test report\n")
	os.WriteFile(p, content, 0o644)
	sum := sha256.Sum256(content)
	got, err := FileDigest(context.Background(), p)
	if err != nil || got != hex.EncodeToString(sum[:]) {
		t.Fatalf("digest %q, %v; want %x", got, err, sum)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := FileDigest(ctx, p); !errors.Is(err, context.Canceled) {
		t.Fatalf("with a cancelled context: %v, want context.Canceled", err)
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FileDigest(context.Background(), fifo); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("a FIFO: %v, want ErrNotRegular (and no hang)", err)
	}
}
