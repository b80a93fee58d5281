package evidence

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// signedBundle is a run directory signed with a new key and a test result.
func signedBundle(t *testing.T) (string, ed25519.PrivateKey) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"run.json":             `{"id":"r1"}`,
		"results.jsonl":        `{"suite":"login","status":"passed"}` + "\n",
		"report.html":          "<p>ACCEPTED</p>",
		"evidence/0123abcd":    "a vendor report",
		"load/checkout.bin":    "\x00\x01binary",
		"acceptance.json":      `{"mode":"private"}`,
		"oscal-assessment.xyz": "x",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tr := TestResult{Result: "FAILED", Passed: []string{"login"}, Warned: []string{"later"}, Failed: []string{"pay", "requirement ledger/security/test"},
		Configuration: []string{"run.json", "acceptance.json", "not-there.json"}}
	if err := SignBundle(dir, key, &tr); err != nil {
		t.Fatal(err)
	}
	return dir, key
}

func TestTheAttestationIsASignedInTotoTestResult(t *testing.T) {
	dir, key := signedBundle(t)
	pub := key.Public().(ed25519.PublicKey)
	a, err := VerifyAttestation(dir, pub)
	if err != nil {
		t.Fatal(err)
	}
	if a.Predicate.GetResult() != "FAILED" || !slices.Equal(a.Predicate.GetPassedTests(), []string{"login"}) ||
		!slices.Equal(a.Predicate.GetFailedTests(), []string{"pay", "requirement ledger/security/test"}) || !slices.Equal(a.Predicate.GetWarnedTests(), []string{"later"}) {
		t.Errorf("predicate %v", a.Predicate)
	}
	var conf []string
	for _, c := range a.Predicate.GetConfiguration() {
		conf = append(conf, c.GetName()+"="+c.GetDigest()["sha256"])
	}
	if len(conf) != 2 || !strings.HasPrefix(conf[0], "run.json="+digest([]byte(`{"id":"r1"}`))) {
		t.Errorf("configuration %v, want run.json and acceptance.json with their digests", conf)
	}
	// Every file of the bundle is a subject with its digest, except the
	// attestation and the manifest's three files.
	want, _ := digests(dir)
	delete(want, AttestationFile)
	if len(a.Subjects) != len(want) || len(want) != 7 {
		t.Fatalf("subjects %v, want the 7 files %v", a.Subjects, want)
	}
	for f, sum := range want {
		if a.Subjects[f] != sum {
			t.Errorf("subject %s has digest %q, want %q", f, a.Subjects[f], sum)
		}
	}
	// The manifest lists the attestation, so removing or changing it shows.
	var man Manifest
	b, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	json.Unmarshal(b, &man)
	if man.Files[AttestationFile] == "" {
		t.Error("manifest.json does not list the attestation")
	}
	problems, err := VerifyBundle(dir, "")
	if err != nil || len(problems) != 0 {
		t.Fatalf("an untouched bundle: problems %v, error %v", problems, err)
	}
}

// TestTheEnvelopeIsSignedOverThePAE checks the signature without the DSSE
// library: Ed25519 over "DSSEv1 <len(type)> <type> <len(body)> <body>".
func TestTheEnvelopeIsSignedOverThePAE(t *testing.T) {
	dir, key := signedBundle(t)
	b, _ := os.ReadFile(filepath.Join(dir, AttestationFile))
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(b, &env); err != nil || len(env.Signatures) != 1 {
		t.Fatalf("envelope %s: %v", b, err)
	}
	if env.PayloadType != "application/vnd.in-toto+json" {
		t.Errorf("payloadType %q", env.PayloadType)
	}
	body, _ := base64.StdEncoding.DecodeString(env.Payload)
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(env.PayloadType), env.PayloadType, len(body), body)
	if !ed25519.Verify(key.Public().(ed25519.PublicKey), []byte(pae), sig) {
		t.Fatal("the signature is not an Ed25519 signature of the PAE encoding")
	}
	var st map[string]any
	json.Unmarshal(body, &st)
	if st["_type"] != "https://in-toto.io/Statement/v1" || st["predicateType"] != "https://in-toto.io/attestation/test-result/v0.1" {
		t.Errorf("statement type %v, predicate type %v", st["_type"], st["predicateType"])
	}
}

func TestTheAttestationFailsAfterOneByteAndWithAnotherKey(t *testing.T) {
	t.Run("one byte of the payload", func(t *testing.T) {
		dir, key := signedBundle(t)
		path := filepath.Join(dir, AttestationFile)
		b, _ := os.ReadFile(path)
		var env map[string]any
		json.Unmarshal(b, &env)
		body, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
		i := strings.Index(string(body), "FAILED")
		if i < 0 {
			t.Fatalf("payload lacks the result: %s", body)
		}
		body[i] = 'P' // "PAILED": one byte
		env["payload"] = base64.StdEncoding.EncodeToString(body)
		nb, _ := json.Marshal(env)
		os.WriteFile(path, nb, 0o644)
		if _, err := VerifyAttestation(dir, key.Public().(ed25519.PublicKey)); err == nil || !strings.Contains(err.Error(), "does not verify") {
			t.Fatalf("a changed payload verified: %v", err)
		}
		if _, err := VerifyBundle(dir, ""); err == nil {
			t.Fatal("VerifyBundle accepted a changed attestation")
		}
	})
	t.Run("one byte of the envelope file", func(t *testing.T) {
		dir, key := signedBundle(t)
		path := filepath.Join(dir, AttestationFile)
		b, _ := os.ReadFile(path)
		i := strings.Index(string(b), `"sig": "`) + len(`"sig": "`)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		os.WriteFile(path, b, 0o644)
		if _, err := VerifyAttestation(dir, key.Public().(ed25519.PublicKey)); err == nil {
			t.Fatal("a changed signature verified")
		}
	})
	t.Run("another key", func(t *testing.T) {
		dir, _ := signedBundle(t)
		other, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := VerifyAttestation(dir, other); err == nil {
			t.Fatal("the attestation verified with another key")
		}
	})
	t.Run("a file the attestation covers", func(t *testing.T) {
		dir, _ := signedBundle(t)
		os.WriteFile(filepath.Join(dir, "report.html"), []byte("<p>ACCEPTED!</p>"), 0o644)
		problems, err := VerifyBundle(dir, "")
		if err != nil || len(problems) != 1 || problems[0].File != "report.html" {
			t.Fatalf("problems %v, error %v; want report.html changed", problems, err)
		}
	})
	t.Run("manifest and attestation rewritten by another key", func(t *testing.T) {
		dir, key := signedBundle(t)
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		if err := SignBundle(dir, other, &TestResult{Result: "PASSED", Passed: []string{"pay"}}); err != nil {
			t.Fatal(err)
		}
		pubFile := filepath.Join(t.TempDir(), "signer.pub")
		der, _ := x509.MarshalPKIXPublicKey(key.Public())
		os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
		if _, err := VerifyBundle(dir, pubFile); err == nil {
			t.Fatal("a bundle re-signed with another key verified with the signer's public key")
		}
		if _, err := VerifyAttestation(dir, key.Public().(ed25519.PublicKey)); err == nil {
			t.Fatal("an attestation re-signed with another key verified with the signer's public key")
		}
	})
}
