package evidence

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha512"

	"filippo.io/edwards25519"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Evidence files can be large (a 1 GiB image of a test report) and are
// named by a vendor: they are read as streams, never whole, only when they
// are regular files (a FIFO would block for ever, /dev/zero never ends), and
// a read stops when the run is interrupted. Signatures and keys are small
// and read whole, within a bound.
const maxSmallFile = 1 << 20

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
	if err := config.HashFile(ctx, path, h); err != nil {
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
