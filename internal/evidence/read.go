package evidence

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"io"

	"filippo.io/edwards25519"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Evidence files can be large (a 1 GiB image of a test report) and are
// named by a vendor: they are read as streams, never whole, only when they
// are regular files (a FIFO would block for ever, /dev/zero never ends), and
// a read stops when the run is interrupted. Signatures and keys are small
// and read whole, within a bound.
const maxSmallFile = 1 << 20

// ctxReader stops a long read when ctx is done (SIGTERM during a digest).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// hashFile streams a regular file into the hashes.
func hashFile(ctx context.Context, path string, hs ...hash.Hash) error {
	f, err := config.OpenRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := make([]io.Writer, len(hs))
	for i, h := range hs {
		w[i] = h
	}
	_, err = io.Copy(io.MultiWriter(w...), ctxReader{ctx, f})
	return err
}

func fileDigestContext(ctx context.Context, path string) (string, error) {
	h := sha256.New()
	if err := hashFile(ctx, path, h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verifyEd25519File checks an Ed25519 signature over a file's bytes in one
// streamed pass: Ed25519 verification hashes R ‖ A ‖ message with SHA-512
// and checks [S]B = R + [k]A, as crypto/ed25519 does on a byte slice
// (RFC 8032 §5.1.7).
func verifyEd25519File(ctx context.Context, pub ed25519.PublicKey, path string, sig []byte) (bool, error) {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize || sig[63]&224 != 0 {
		return false, nil
	}
	A, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return false, nil
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(pub)
	if err := hashFile(ctx, path, h); err != nil {
		return false, err
	}
	k, err := new(edwards25519.Scalar).SetUniformBytes(h.Sum(nil))
	if err != nil {
		return false, err
	}
	S, err := new(edwards25519.Scalar).SetCanonicalBytes(sig[32:])
	if err != nil {
		return false, nil
	}
	minusA := new(edwards25519.Point).Negate(A)
	R := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(k, minusA, S)
	return bytes.Equal(sig[:32], R.Bytes()), nil
}
