package evidence

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	testresult "github.com/in-toto/attestation/go/predicates/test_result/v0"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// AttestationFile is the in-toto attestation of the run: a Statement v1
// whose subjects are the bundle's files and whose predicate is the
// test-result, in a DSSE envelope signed with the manifest's key. It is
// written before the manifest, so manifest.json lists it and its subjects
// are every file but itself and the manifest's three.
const AttestationFile = "attestation.intoto.json"

// The DSSE payload type and the predicate type of the attestation.
const (
	PayloadType         = "application/vnd.in-toto+json"
	TestResultPredicate = "https://in-toto.io/attestation/test-result/v0.1"
)

// TestResult is what the attestation says of the run: the overall result
// (PASSED, WARNED or FAILED) and the suites that passed, warned (did not run
// or did not finish) and failed. Configuration names the files of the run
// directory that say what was run (run.json, acceptance.json).
type TestResult struct {
	Result        string
	Passed        []string
	Warned        []string
	Failed        []string
	Configuration []string
}

// ed25519Signer signs and verifies DSSE envelopes with the bundle's key.
type ed25519Signer struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func (s ed25519Signer) Sign(_ context.Context, data []byte) ([]byte, error) {
	if s.priv == nil {
		return nil, errors.New("no private key")
	}
	return ed25519.Sign(s.priv, data), nil
}

func (s ed25519Signer) Verify(_ context.Context, data, sig []byte) error {
	if !ed25519.Verify(s.pub, data, sig) {
		return errors.New("the Ed25519 signature does not verify")
	}
	return nil
}

func (s ed25519Signer) KeyID() (string, error)   { return dsse.SHA256KeyID(s.pub) }
func (s ed25519Signer) Public() crypto.PublicKey { return s.pub }

// attest writes the attestation of dir: the subjects are the digests of
// every file of the bundle except the attestation itself.
func attest(dir string, key ed25519.PrivateKey, tr TestResult) error {
	files, err := digests(dir)
	if err != nil {
		return err
	}
	delete(files, AttestationFile)
	pred := &testresult.TestResult{Result: tr.Result, PassedTests: tr.Passed, WarnedTests: tr.Warned, FailedTests: tr.Failed}
	for _, name := range tr.Configuration {
		if sum, ok := files[name]; ok {
			pred.Configuration = append(pred.Configuration, &intoto.ResourceDescriptor{Name: name, Digest: map[string]string{"sha256": sum}})
		}
	}
	predJSON, err := protojson.Marshal(pred)
	if err != nil {
		return err
	}
	var predStruct structpb.Struct
	if err := protojson.Unmarshal(predJSON, &predStruct); err != nil {
		return err
	}
	st := &intoto.Statement{Type: intoto.StatementTypeUri, PredicateType: TestResultPredicate, Predicate: &predStruct}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		st.Subject = append(st.Subject, &intoto.ResourceDescriptor{Name: name, Digest: map[string]string{"sha256": files[name]}})
	}
	if err := st.Validate(); err != nil {
		return fmt.Errorf("the in-toto statement is not valid: %w", err)
	}
	payload, err := protojson.Marshal(st)
	if err != nil {
		return err
	}
	signer, err := dsse.NewEnvelopeSigner(ed25519Signer{priv: key, pub: key.Public().(ed25519.PublicKey)})
	if err != nil {
		return err
	}
	env, err := signer.SignPayload(context.Background(), PayloadType, payload)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, AttestationFile), append(b, '\n'), 0o644)
}

// Attestation is a verified attestation: its statement's subjects (slash
// path -> sha256) and predicate.
type Attestation struct {
	Subjects  map[string]string
	Predicate *testresult.TestResult
}

// VerifyAttestation checks the DSSE envelope of dir's attestation with pub:
// the payload type, the Ed25519 signature over the PAE encoding, and that
// the payload is an in-toto Statement v1 with the test-result predicate.
func VerifyAttestation(dir string, pub ed25519.PublicKey) (*Attestation, error) {
	b, err := os.ReadFile(filepath.Join(dir, AttestationFile))
	if err != nil {
		return nil, err
	}
	var env dsse.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%s is not a DSSE envelope: %w", AttestationFile, err)
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("%s has payload type %q, not %q", AttestationFile, env.PayloadType, PayloadType)
	}
	v, err := dsse.NewEnvelopeVerifier(ed25519Signer{pub: pub})
	if err != nil {
		return nil, err
	}
	if _, err := v.Verify(context.Background(), &env); err != nil {
		return nil, fmt.Errorf("the signature of %s does not verify: the attestation was changed or signed with another key (%v)", AttestationFile, err)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return nil, err
	}
	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("the payload of %s is not an in-toto statement: %w", AttestationFile, err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("the statement of %s is not valid: %w", AttestationFile, err)
	}
	if st.GetType() != intoto.StatementTypeUri || st.GetPredicateType() != TestResultPredicate {
		return nil, fmt.Errorf("%s is a %s statement with predicate %s, not a %s statement with predicate %s",
			AttestationFile, st.GetType(), st.GetPredicateType(), intoto.StatementTypeUri, TestResultPredicate)
	}
	predJSON, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, err
	}
	a := &Attestation{Subjects: map[string]string{}, Predicate: &testresult.TestResult{}}
	if err := protojson.Unmarshal(predJSON, a.Predicate); err != nil {
		return nil, fmt.Errorf("the predicate of %s is not a test-result: %w", AttestationFile, err)
	}
	for _, s := range st.GetSubject() {
		a.Subjects[s.GetName()] = s.GetDigest()["sha256"]
	}
	return a, nil
}

// attestationProblems compares the attested subjects with the files now
// in the bundle (every file but the bundle's own), leaving out the files
// already named.
func attestationProblems(a *Attestation, now map[string]string, named []Problem) []Problem {
	seen := func(f string) bool {
		return slices.ContainsFunc(named, func(p Problem) bool { return p.File == f })
	}
	var out []Problem
	for f, sum := range a.Subjects {
		got, ok := now[f]
		switch {
		case seen(f):
		case !ok:
			out = append(out, Problem{f, "removed (attested)"})
		case got != sum:
			out = append(out, Problem{f, "changed (attested)"})
		}
	}
	for f := range now {
		if _, ok := a.Subjects[f]; !ok && f != AttestationFile && !seen(f) {
			out = append(out, Problem{f, "added (not attested)"})
		}
	}
	return out
}
