package evidence

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/deploy"
)

const deployment = `deployment {
  mode = "community"
  component "mobile" {
    layers = ["paas", "saas"]
    vendor = "acme"
  }
}
`

var runDate = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func pemPublic(t *testing.T, pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// verifyOneBlock writes files and one evidence block, loads it and verifies it.
func verifyOneBlock(t *testing.T, files map[string][]byte, block string) deploy.EvidenceItem {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "ev.hcl"), []byte(deployment+block), 0o644)
	cfg, _, diags := config.Load(dir, config.Options{Blocks: []config.BlockKind{Block}})
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	items := All(cfg)
	got := Verify(cfg, items, runDate, 30*24*time.Hour)
	if len(got) != 1 {
		t.Fatalf("%d items", len(got))
	}
	if got[0].State != deploy.Present && !strings.Contains(got[0].Message, "ev.hcl:9") {
		t.Errorf("the message does not name the block's file and line: %q", got[0].Message)
	}
	run := t.TempDir()
	if err := Store(run, cfg, items, got); err != nil {
		t.Fatal(err)
	}
	if got[0].State == deploy.Present {
		if _, err := os.Stat(filepath.Join(run, "evidence", got[0].SHA256)); err != nil {
			t.Errorf("verified evidence not kept by digest: %v", err)
		}
	}
	return got[0]
}

func block(sum string, extra string) string {
	return fmt.Sprintf(`
evidence "cert" {
  component   = "mobile"
  kind        = "certification"
  file        = "cert.txt"
  sha256      = %q
  issuer      = "Acme"
%s
  covers {
    categories = ["functional"]
    layers     = ["saas"]
  }
}
`, sum, extra)
}

func TestEvidenceStates(t *testing.T) {
	doc := []byte("certificate ACME-1\n")
	sum := digest(doc)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	h := sha256.Sum256(doc)
	ecSig, _ := ecdsa.SignASN1(rand.Reader, ecKey, h[:])
	rsaSig, _ := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, h[:])
	edSig := ed25519.Sign(edKey, doc)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	certDER, _ := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Acme"},
		NotBefore: runDate.Add(-time.Hour), NotAfter: runDate.Add(time.Hour)}, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Acme"}}, &ecKey.PublicKey, ecKey)
	signed := func(sig []byte, keyFile string) string {
		return fmt.Sprintf("  signature = \"cert.sig\"\n  %s\n", keyFile)
	}
	tests := []struct {
		name  string
		files map[string][]byte
		block string
		state string
		msg   string
	}{
		{"a matching digest is present", map[string][]byte{"cert.txt": doc}, block(sum, ""), deploy.Present, ""},
		{"a wrong digest is tampered", map[string][]byte{"cert.txt": []byte("certificate ACME-2\n")}, block(sum, ""), deploy.Tampered, "not " + sum},
		{"a missing file is missing", nil, block(sum, ""), deploy.Missing, "does not exist"},
		{"an expired one is expired", map[string][]byte{"cert.txt": doc}, block(sum, `  valid_until = "2026-11-23"`), deploy.Expired, "valid until 2026-11-23"},
		{"the last valid day still counts", map[string][]byte{"cert.txt": doc}, block(sum, `  valid_until = "2026-11-24"`), deploy.Present, ""},
		{"one issued later is not yet valid", map[string][]byte{"cert.txt": doc}, block(sum, `  issued = "2026-12-01"`), deploy.NotYetValid, "issued on 2026-12-01"},
		{"a good Ed25519 signature verifies", map[string][]byte{"cert.txt": doc, "cert.sig": edSig, "k.pem": pemPublic(t, edPub)}, block(sum, signed(edSig, `public_key = "k.pem"`)), deploy.Present, ""},
		{"a base64 Ed25519 signature verifies", map[string][]byte{"cert.txt": doc, "cert.sig": []byte(base64.StdEncoding.EncodeToString(edSig) + "\n"), "k.pem": pemPublic(t, edPub)}, block(sum, signed(nil, `public_key = "k.pem"`)), deploy.Present, ""},
		{"a good ECDSA signature verifies against a certificate", map[string][]byte{"cert.txt": doc, "cert.sig": ecSig, "c.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})}, block(sum, signed(ecSig, `certificate = "c.pem"`)), deploy.Present, ""},
		{"a good RSA signature verifies", map[string][]byte{"cert.txt": doc, "cert.sig": rsaSig, "k.pem": pemPublic(t, &rsaKey.PublicKey)}, block(sum, signed(rsaSig, `public_key = "k.pem"`)), deploy.Present, ""},
		{"a signature by another key is bad", map[string][]byte{"cert.txt": doc, "cert.sig": ed25519.Sign(otherKey, doc), "k.pem": pemPublic(t, edPub)}, block(sum, signed(nil, `public_key = "k.pem"`)), deploy.BadSig, "Ed25519 verification failed"},
		{"a scope beyond the component's layers is invalid", map[string][]byte{"cert.txt": doc}, strings.Replace(block(sum, ""), `layers     = ["saas"]`, `layers     = ["iaas"]`, 1), deploy.Invalid, `layer "iaas"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := verifyOneBlock(t, tt.files, tt.block)
			if got.State != tt.state || !strings.Contains(got.Message, tt.msg) {
				t.Fatalf("state %s, message %q; want %s with %q", got.State, got.Message, tt.state, tt.msg)
			}
		})
	}
}

func TestExpiryWarning(t *testing.T) {
	doc := []byte("x")
	got := verifyOneBlock(t, map[string][]byte{"cert.txt": doc}, block(digest(doc), `  valid_until = "2026-12-10"`))
	if got.State != deploy.Present || !strings.Contains(got.Warning, "expires on 2026-12-10") {
		t.Fatalf("%+v", got)
	}
}

func TestDirectoryDigest(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("b"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "a.txt"), []byte("a"), 0o644)
	got, err := Digest(dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := digest([]byte("b")) + "  b.txt\n" + digest([]byte("a")) + "  sub/a.txt\n"
	if got != digest([]byte(lines)) {
		t.Fatalf("directory digest %s does not follow the documented scheme", got)
	}
}

func TestBundleDetectsEveryChange(t *testing.T) {
	mk := func(t *testing.T) string {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "evidence"), 0o755)
		os.WriteFile(filepath.Join(dir, "report.json"), []byte(`{"verdict":"ACCEPTED"}`), 0o644)
		os.WriteFile(filepath.Join(dir, "results.jsonl"), []byte("{}\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "evidence", "abc"), []byte("pdf"), 0o644)
		if err := Sign(dir, nil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name   string
		change func(dir string)
		want   string
	}{
		{"a one-byte change", func(d string) { os.WriteFile(filepath.Join(d, "report.json"), []byte(`{"verdict":"ACCEPTEd"}`), 0o644) }, "changed report.json"},
		{"a deleted file", func(d string) { os.Remove(filepath.Join(d, "evidence", "abc")) }, "removed evidence/abc"},
		{"an added file", func(d string) { os.WriteFile(filepath.Join(d, "extra.txt"), nil, 0o644) }, "added extra.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := mk(t)
			if p, err := VerifyBundle(dir, ""); err != nil || len(p) != 0 {
				t.Fatalf("fresh bundle: %v %v", p, err)
			}
			tt.change(dir)
			p, err := VerifyBundle(dir, "")
			if err != nil || len(p) != 1 || p[0].What+" "+p[0].File != tt.want {
				t.Fatalf("problems %v, err %v; want %s", p, err, tt.want)
			}
		})
	}
	t.Run("a rewritten manifest does not verify with the signer's key", func(t *testing.T) {
		dir := mk(t)
		pubCopy := filepath.Join(t.TempDir(), "signer.pub")
		b, _ := os.ReadFile(filepath.Join(dir, PublicKeyFile))
		os.WriteFile(pubCopy, b, 0o644)
		os.WriteFile(filepath.Join(dir, "report.json"), []byte(`{"verdict":"forged"}`), 0o644)
		Sign(dir, nil) // someone signs the forged directory with a key of their own
		if _, err := VerifyBundle(dir, pubCopy); err == nil || !strings.Contains(err.Error(), "does not verify") {
			t.Fatalf("err = %v, want a signature failure", err)
		}
	})
	t.Run("a given signing key is used", func(t *testing.T) {
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		keyFile := filepath.Join(t.TempDir(), "k.pem")
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
		loaded, err := LoadPrivateKey(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
		Sign(dir, loaded)
		pubFile := filepath.Join(t.TempDir(), "p.pem")
		os.WriteFile(pubFile, pemPublic(t, key.Public()), 0o644)
		if p, err := VerifyBundle(dir, pubFile); err != nil || len(p) != 0 {
			t.Fatalf("%v %v", p, err)
		}
	})
}
