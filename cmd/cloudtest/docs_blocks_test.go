package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/suites"
)

// hclFence is a ```hcl block of a Markdown file.
var hclFence = regexp.MustCompile("(?s)```hcl\n(.*?)```")

// declared finds the top-level blocks a snippet declares itself.
var declared = regexp.MustCompile(`(?m)^(variable|target) "([^"]+)"|^(deployment)\b`)

// docPreamble declares what the snippets of the docs refer to without
// declaring it: a few variables and targets. Only those a snippet does
// not declare itself are added.
var docPreamble = map[string]string{
	"variable password":     "variable \"password\" {\n  sensitive = true\n  default   = \"x\"\n}\n",
	"variable bob_password": "variable \"bob_password\" {\n  sensitive = true\n  default   = \"y\"\n}\n",
	"variable core_url":     "variable \"core_url\" { default = \"http://127.0.0.1:1\" }\n",
	"variable db_dsn":       "variable \"db_dsn\" { default = \"postgres://u:p@127.0.0.1:1/db\" }\n",
	"target t":              "target \"t\" { url = \"http://127.0.0.1:1\" }\n",
	"target demo":           "target \"demo\" { url = \"http://127.0.0.1:1\" }\n",
	"target cloud":          "target \"cloud\" { url = \"http://127.0.0.1:1\" }\n",
	"target demo-insecure":  "target \"demo-insecure\" { url = \"http://127.0.0.1:1\" }\n",
	"deployment":            "deployment {\n  mode = \"hybrid\"\n  component \"core-ledger\" {\n    mode   = \"private\"\n    layers = [\"iaas\"]\n  }\n  component \"mobile-channel\" {\n    mode   = \"community\"\n    layers = [\"saas\"]\n    vendor = \"acme\"\n  }\n}\n",
}

// docEnviron gives the variables the snippets declare without a default.
var docEnviron = []string{"CLOUDTEST_VAR_password=x", "CLOUDTEST_VAR_cloud_dsn=postgres://u:p@127.0.0.1:1/cloud", "CLOUDTEST_VAR_legacy_dsn=postgres://u:p@127.0.0.1:1/legacy"}

// Every ```hcl block of README.md and docs/*.md loads with the loader the
// CLI uses (every suite kind and block kind): what the pages show is the
// language as it is. A block that is deliberately a fragment says so on
// its first line with a comment "# partial: why"; it is listed, not
// loaded. A step block alone is loaded inside a case of a functional suite.
func TestEveryHCLBlockOfTheDocsValidates(t *testing.T) {
	docCerts := selfSigned(t, "ca.pem", "client.pem", "client.key", "clearing-ca.pem", "branch-042.pem", "branch-042.key")
	pages, _ := filepath.Glob("../../docs/*.md")
	pages = append([]string{"../../README.md"}, pages...)
	loaded := 0
	for _, page := range pages {
		doc, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range hclFence.FindAllSubmatchIndex(doc, -1) {
			block := string(doc[m[2]:m[3]])
			line := 1 + strings.Count(string(doc[:m[2]]), "\n")
			first, _, _ := strings.Cut(strings.TrimSpace(block), "\n")
			if strings.HasPrefix(strings.TrimSpace(first), "# partial") {
				t.Logf("%s:%d (block %d) is marked partial: %s", filepath.Base(page), line, i+1, strings.TrimSpace(first))
				continue
			}
			src := block
			if strings.HasPrefix(strings.TrimSpace(block), "step \"") {
				src = "functional \"doc\" {\n  target = target.t\n  case \"example\" {\n" + block + "\n  }\n}\n"
			}
			own := map[string]bool{}
			for _, d := range declared.FindAllStringSubmatch(src, -1) {
				own[strings.TrimSpace(d[1]+" "+d[2]+d[3])] = true
			}
			var pre strings.Builder
			for name, decl := range docPreamble {
				if !own[name] {
					pre.WriteString(decl)
				}
			}
			dir := t.TempDir()
			for name, body := range map[string]string{"doc.hcl": src, "preamble.hcl": pre.String()} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for name, body := range docCerts {
				p := filepath.Join(dir, "certs", name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, body, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for name, body := range docFiles {
				p := filepath.Join(dir, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			loaded++
			_, _, diags := config.Load(dir, config.Options{Kinds: suites.Kinds, Blocks: blocks, Environ: docEnviron})
			if diags.HasErrors() {
				t.Errorf("%s:%d (block %d) does not validate (mark it \"# partial: why\" if it is a fragment on purpose):\n%s\n%s", filepath.Base(page), line, i+1, diags.Error(), block)
			}
		}
	}
	if loaded < 20 {
		t.Fatalf("only %d hcl blocks were loaded", loaded)
	}
}

// docFiles are the files the examples name (schemas, an OpenAPI
// document, certificates: the loader checks that they are there).
var docFiles = map[string]string{
	"api/payments.yaml":    "openapi: 3.0.3\ninfo: {title: payments, version: \"1\"}\npaths: {}\n",
	"bin/legacy-server":    "-",
	"service/Dockerfile":   "FROM scratch\n",
	"schemas/account.json": `{"type": "object", "required": ["balance"], "properties": {"balance": {"type": "number"}}}`,
	"schemas/login.json":   `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": ["token"]}`,
}

// selfSigned returns a self-signed certificate under every name ending in
// .pem and its key under every name ending in .key: the certificate files
// the docs name, which the loader reads.
func selfSigned(t *testing.T, names ...string) map[string][]byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "docs"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, n := range names {
		if strings.HasSuffix(n, ".key") {
			out[n] = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
		} else {
			out[n] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		}
	}
	return out
}
