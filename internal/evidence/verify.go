package evidence

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/deploy"
)

func isAbs(p string) bool     { return filepath.IsAbs(p) }
func join(a, b string) string { return filepath.Join(a, b) }

// Verify checks every evidence block at the date now. expiryWarning is how
// close to its end a validity window earns a warning. Problems name the
// block's file and line.
func Verify(cfg *config.Config, items []*Evidence, now time.Time, expiryWarning time.Duration) []deploy.EvidenceItem {
	return VerifyContext(context.Background(), cfg, items, now, expiryWarning)
}

// VerifyContext is Verify that stops reading files when ctx is done; the
// items not verified by then are reported as not read.
func VerifyContext(ctx context.Context, cfg *config.Config, items []*Evidence, now time.Time, expiryWarning time.Duration) []deploy.EvidenceItem {
	out := make([]deploy.EvidenceItem, 0, len(items))
	for _, e := range items {
		out = append(out, verifyOne(ctx, cfg.Deployment, e, now, expiryWarning))
	}
	return out
}

func verifyOne(ctx context.Context, dep *config.Deployment, e *Evidence, now time.Time, warnWithin time.Duration) deploy.EvidenceItem {
	loc := config.Location(e.DeclRange)
	it := deploy.EvidenceItem{Name: e.Name, Kind: e.Kind, Components: e.Components, Categories: e.Categories,
		Layers: e.Layers, Location: loc, Issuer: e.Issuer, SHA256: e.SHA256}
	if !e.ValidUntil.IsZero() {
		it.ValidUntil = e.ValidUntil.Format("2006-01-02")
	}
	bad := func(state, format string, args ...any) deploy.EvidenceItem {
		it.State = state
		it.Message = fmt.Sprintf("evidence %q at %s: ", e.Name, loc) + fmt.Sprintf(format, args...)
		return it
	}
	sum, err := digestContext(ctx, e.File)
	if errors.Is(err, fs.ErrNotExist) {
		return bad(deploy.Missing, "the file %s does not exist", e.File)
	}
	if err != nil {
		return bad(deploy.Missing, "the file %s cannot be read: %v", e.File, err)
	}
	if !strings.EqualFold(sum, strings.TrimSpace(e.SHA256)) {
		return bad(deploy.Tampered, "the sha256 of %s is %s, not %s as declared: the file was changed or the digest is wrong", e.File, sum, e.SHA256)
	}
	it.SHA256 = sum
	day := now.UTC().Truncate(24 * time.Hour)
	if !e.Issued.IsZero() && day.Before(e.Issued) {
		return bad(deploy.NotYetValid, "it is issued on %s, after the run date %s", e.Issued.Format("2006-01-02"), day.Format("2006-01-02"))
	}
	if !e.ValidUntil.IsZero() && day.After(e.ValidUntil) {
		return bad(deploy.Expired, "it was valid until %s; the run date is %s", e.ValidUntil.Format("2006-01-02"), day.Format("2006-01-02"))
	}
	if e.Signature != "" {
		if err := checkSignature(ctx, e); err != nil {
			return bad(deploy.BadSig, "the signature %s does not verify: %v", e.Signature, err)
		}
	}
	for _, c := range e.Components {
		comp := dep.Component(c)
		if comp == nil {
			return bad(deploy.Invalid, "it claims component %q, which the deployment block does not declare", c)
		}
		for _, l := range e.Layers {
			if !slices.Contains(comp.Layers, l) {
				return bad(deploy.Invalid, "it claims layer %q for component %q, which uses only %v", l, c, comp.Layers)
			}
		}
	}
	it.State = deploy.Present
	if !e.ValidUntil.IsZero() && e.ValidUntil.Sub(day) <= warnWithin {
		it.Warning = fmt.Sprintf("evidence %q at %s expires on %s", e.Name, loc, e.ValidUntil.Format("2006-01-02"))
	}
	return it
}

// Digest is the sha256 of a file, or of a directory: for a directory, the
// sha256 of the lines "<sha256 of file>  <relative path>\n" of every file
// in it, sorted by path (what `sha256sum` prints, sorted).
func Digest(path string) (string, error) {
	return digestContext(context.Background(), path)
}

func digestContext(ctx context.Context, path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return config.FileDigest(ctx, path)
	}
	var lines []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		sum, err := config.FileDigest(ctx, p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(path, p)
		lines = append(lines, sum+"  "+filepath.ToSlash(rel)+"\n")
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][66:] < lines[j][66:] })
	h := sha256.New()
	for _, l := range lines {
		io.WriteString(h, l)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkSignature verifies a detached signature over the file's bytes:
// Ed25519 signs the bytes; ECDSA (ASN.1) and RSA (PKCS #1 v1.5) sign their
// sha256. The signature file holds the raw signature or its base64 form.
// The signed file is streamed, never read whole.
func checkSignature(ctx context.Context, e *Evidence) error {
	sig, err := config.ReadRegular(e.Signature, maxSmallFile)
	if err != nil {
		return err
	}
	sig = decodeMaybeBase64(sig)
	var pub crypto.PublicKey
	if e.PublicKey != "" {
		pub, err = readPublicKey(e.PublicKey)
	} else {
		pub, err = readCertificateKey(e.Certificate)
	}
	if err != nil {
		return err
	}
	if k, ok := pub.(ed25519.PublicKey); ok {
		good, err := verifyEd25519File(ctx, k, e.File, sig)
		if err != nil {
			return err
		}
		if !good {
			return errors.New("Ed25519 verification failed")
		}
		return nil
	}
	h := sha256.New()
	if err := config.HashFile(ctx, e.File, h); err != nil {
		return err
	}
	digest := h.Sum(nil)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest[:], sig) {
			return errors.New("ECDSA verification failed")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig); err != nil {
			return fmt.Errorf("RSA verification failed: %w", err)
		}
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
	return nil
}

func readPEM(path, what string) (*pem.Block, error) {
	b, err := config.ReadRegular(path, maxSmallFile)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s holds no PEM %s", path, what)
	}
	return blk, nil
}

func readPublicKey(path string) (crypto.PublicKey, error) {
	blk, err := readPEM(path, "public key")
	if err != nil {
		return nil, err
	}
	return x509.ParsePKIXPublicKey(blk.Bytes)
}

func readCertificateKey(path string) (crypto.PublicKey, error) {
	blk, err := readPEM(path, "certificate")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, err
	}
	return cert.PublicKey, nil
}

// Store copies every present item's file into dir/evidence/<sha256> (a
// directory is copied as a directory) and records where.
func Store(runDir string, cfg *config.Config, items []*Evidence, verified []deploy.EvidenceItem) error {
	return storeContext(context.Background(), runDir, items, verified)
}

func storeContext(ctx context.Context, runDir string, items []*Evidence, verified []deploy.EvidenceItem) error {
	for i := range verified {
		v := &verified[i]
		if v.State != deploy.Present {
			continue
		}
		dst := filepath.Join(runDir, "evidence", v.SHA256)
		if err := copyPath(ctx, items[i].File, dst); err != nil {
			return fmt.Errorf("keeping evidence %q: %w", v.Name, err)
		}
		v.Stored = filepath.ToSlash(filepath.Join("evidence", v.SHA256))
	}
	return nil
}

func copyPath(ctx context.Context, src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			return copyPath(ctx, p, filepath.Join(dst, rel))
		})
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := config.OpenRegular(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, config.ContextReader(ctx, in)); err != nil {
		out.Close()
		os.Remove(dst) // half a copy is not evidence (and would be signed)
		return err
	}
	return out.Close()
}
