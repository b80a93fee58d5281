package functional

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
)

// pki is a CA with the PEM files a target's tls block names.
type pki struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPEM  string
	serial int64
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cloudtest test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return &pki{ca: ca, caKey: key, caPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), serial: 1}
}

// issue returns a certificate and key (PEM) for cn, a server's (for
// 127.0.0.1) or a client's.
func (p *pki) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM string) {
	t.Helper()
	p.serial++
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
}

// A target's tls block gives a client certificate to a real TLS server
// that requires one issued by its CA; without one, or with one of another
// CA, the step errors and says what the server wanted.
func TestMutualTLSSendsTheTargetsClientCertificate(t *testing.T) {
	bank := newPKI(t)
	srvCert, srvKey := bank.issue(t, "127.0.0.1", true)
	clientCert, clientKey := bank.issue(t, "branch-042", false)
	other := newPKI(t)
	strangerCert, strangerKey := other.issue(t, "stranger", false)

	pair, err := tls.X509KeyPair([]byte(srvCert), []byte(srvKey))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(bank.ca)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"client":%q}`, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	files := map[string]string{
		"certs/ca.pem": bank.caPEM, "certs/client.pem": clientCert, "certs/client.key": clientKey,
		"certs/stranger.pem": strangerCert, "certs/stranger.key": strangerKey,
		"suite.hcl": fmt.Sprintf(`
target "branch" {
  url = %[1]q
  tls {
    ca_file   = "certs/ca.pem"
    cert_file = "certs/client.pem"
    key_file  = "certs/client.key"
  }
}
target "anonymous" {
  url = %[1]q
  tls { ca_file = "certs/ca.pem" }
}
target "stranger" {
  url = %[1]q
  tls {
    ca_file   = "certs/ca.pem"
    cert_file = "certs/stranger.pem"
    key_file  = "certs/stranger.key"
  }
}
functional "mtls" {
  target = target.branch
  case "with-certificate" {
    step "hello" {
      http { path = "/" }
      expect { json = { client = "branch-042" } }
    }
  }
}
functional "no-cert" {
  target = target.anonymous
  case "without" {
    step "hello" {
      http { path = "/" }
    }
  }
}
functional "wrong-cert" {
  target = target.stranger
  case "foreign" {
    step "hello" {
      http { path = "/" }
    }
  }
}`, srv.URL)}
	r := runAgainst(t, srv.URL, files)
	if res := r.step(t, "with-certificate", "hello"); res.Status != result.Passed {
		t.Fatalf("with the client certificate %s: %s", res.Status, res.Message)
	}
	if res := r.step(t, "without", "hello"); res.Status != result.Errored || !strings.Contains(res.Message, "the server asks for a client certificate: give the target tls { cert_file = …, key_file = … }") {
		t.Errorf("without a client certificate %s: %s", res.Status, res.Message)
	}
	if res := r.step(t, "foreign", "hello"); res.Status != result.Errored || !strings.Contains(res.Message, "the server did not accept the target's client certificate") {
		t.Errorf("with another CA's certificate %s: %s", res.Status, res.Message)
	}
}

// validate reads the tls files: a missing one, a CA file without a
// certificate and a certificate with another's key are diagnostics at the
// attribute.
func TestTLSFilesAreCheckedByValidate(t *testing.T) {
	bank := newPKI(t)
	c1, _ := bank.issue(t, "a", false)
	_, k2 := bank.issue(t, "b", false)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := osWriteFile(p, body); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca := write("notca.pem", "hello")
	cert, key := write("a.pem", c1), write("b.key", k2)
	got := loadDiags(t, fmt.Sprintf(`
target "x" {
  url = "https://127.0.0.1:1"
  tls {
    ca_file   = %q
    cert_file = %q
    key_file  = %q
  }
}
target "y" {
  url = "https://127.0.0.1:1"
  tls { ca_file = "nowhere/ca.pem" }
}`, ca, cert, key))
	for _, want := range []string{
		`suite.hcl:6,17-`, "No CA certificate; tls.ca_file: " + ca + " holds no PEM certificate",
		`suite.hcl:7,17-`, "Unusable client certificate; tls: " + cert + " and " + key + " do not make a client certificate: tls: private key does not match public key.",
		`suite.hcl:13,19-35: File not found; tls.ca_file: nowhere/ca.pem cannot be read: no such file or directory.`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, got)
		}
	}
}

// A request that cannot be made names its method and URL once.
func TestARefusedConnectionNamesTheRequestOnce(t *testing.T) {
	r := runAgainst(t, "http://127.0.0.1:1", map[string]string{"suite.hcl": `
functional "closed" {
  target = target.httpbin
  case "c" {
    step "s" {
      http { path = "/nothing" }
    }
  }
}`})
	res := r.step(t, "c", "s")
	if res.Status != result.Errored || !strings.HasPrefix(res.Message, "GET http://127.0.0.1:1/nothing: dial tcp 127.0.0.1:1: connect: connection refused") ||
		strings.Count(res.Message, "/nothing") != 1 {
		t.Errorf("%s: %s", res.Status, res.Message)
	}
}
