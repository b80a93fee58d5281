package evidence

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/cloudtest/cloudtest/internal/config"
)

// The bundle files: the manifest lists the digest of every other file of
// the run directory; its signature is an Ed25519 signature of the manifest
// bytes; the public key is written beside them.
const (
	ManifestFile  = "manifest.json"
	SignatureFile = "manifest.sig"
	PublicKeyFile = "manifest.pub"
)

// Manifest is manifest.json.
type Manifest struct {
	Algorithm string            `json:"algorithm"` // sha256
	Files     map[string]string `json:"files"`     // slash path -> sha256
}

func bundleFile(rel string) bool {
	return rel == ManifestFile || rel == SignatureFile || rel == PublicKeyFile
}

func digests(dir string) (map[string]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if bundleFile(rel) {
			return nil
		}
		sum, err := config.FileDigest(context.Background(), p)
		if err != nil {
			return err
		}
		files[rel] = sum
		return nil
	})
	return files, err
}

// Sign writes manifest.json, manifest.sig and manifest.pub in dir. With a
// nil key a new key is made for this run; only its public half is kept.
func Sign(dir string, key ed25519.PrivateKey) error { return SignBundle(dir, key, nil) }

// SignBundle signs dir as Sign does; with a test result it first writes
// the in-toto attestation (AttestationFile), signed with the same key, so
// that the manifest lists it too.
func SignBundle(dir string, key ed25519.PrivateKey, tr *TestResult) error {
	if key == nil {
		var err error
		if _, key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			return err
		}
	}
	if tr != nil {
		if err := attest(dir, key, *tr); err != nil {
			return fmt.Errorf("writing %s: %w", AttestationFile, err)
		}
	}
	files, err := digests(dir)
	if err != nil {
		return fmt.Errorf("digesting %s: %w", dir, err)
	}
	m, err := json.MarshalIndent(Manifest{Algorithm: "sha256", Files: files}, "", "  ")
	if err != nil {
		return err
	}
	m = append(m, '\n')
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, m)) + "\n"
	for name, data := range map[string][]byte{
		ManifestFile:  m,
		SignatureFile: []byte(sig),
		PublicKeyFile: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// LoadPrivateKey reads an Ed25519 private key in PKCS #8 PEM form.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	blk, err := readPEM(path, "private key")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ed, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T key; the bundle is signed with Ed25519", path, k)
	}
	return ed, nil
}

// maxManifest bounds manifest.json: a line of about 100 bytes a file.
const maxManifest = 64 << 20

// Problem is one file that does not match the manifest.
type Problem struct {
	File string `json:"file"`
	What string `json:"what"` // added, removed, changed
}

// VerifyBundle checks the manifest's signature with publicKey (a PEM file;
// "" uses the manifest.pub in dir, which proves integrity only against
// accidents, not against someone who rewrote all three files), every
// digest, and the attestation's signature and subjects. It returns the
// files that were added, removed or changed.
func VerifyBundle(dir, publicKey string) ([]Problem, error) {
	if publicKey == "" {
		publicKey = filepath.Join(dir, PublicKeyFile)
	}
	pub, err := readPublicKey(publicKey)
	if err != nil {
		return nil, fmt.Errorf("reading the public key: %w", err)
	}
	edPub, ok := pub.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s is not an Ed25519 key", publicKey)
	}
	m, err := config.ReadRegular(filepath.Join(dir, ManifestFile), maxManifest)
	if err != nil {
		return nil, err
	}
	sigText, err := config.ReadRegular(filepath.Join(dir, SignatureFile), maxSmallFile)
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(edPub, m, decodeMaybeBase64(sigText)) {
		return nil, errors.New("the signature of manifest.json does not verify: the manifest was changed or signed with another key")
	}
	var man Manifest
	if err := json.Unmarshal(m, &man); err != nil {
		return nil, fmt.Errorf("reading manifest.json: %w", err)
	}
	now, err := digests(dir)
	if err != nil {
		return nil, err
	}
	var problems []Problem
	for f, sum := range man.Files {
		got, ok := now[f]
		switch {
		case !ok:
			problems = append(problems, Problem{f, "removed"})
		case got != sum:
			problems = append(problems, Problem{f, "changed"})
		}
	}
	for f := range now {
		if _, ok := man.Files[f]; !ok {
			problems = append(problems, Problem{f, "added"})
		}
	}
	// The attestation, when the bundle has one, must verify with the same
	// key and attest the files there are now.
	if _, listed := man.Files[AttestationFile]; listed || now[AttestationFile] != "" {
		if _, err := os.Stat(filepath.Join(dir, AttestationFile)); err == nil {
			a, err := VerifyAttestation(dir, edPub)
			if err != nil {
				return problems, err
			}
			problems = append(problems, attestationProblems(a, now, problems)...)
		}
	}
	sort.Slice(problems, func(i, j int) bool { return problems[i].File < problems[j].File })
	return problems, nil
}
