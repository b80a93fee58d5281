package security

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
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
	"slices"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
)

type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  string
}

func newCA(t *testing.T) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cloudtest test CA"},
		NotBefore: time.Now().Add(-365 * 24 * time.Hour), NotAfter: time.Now().Add(5 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// leaf issues a server certificate for key, valid from notBefore to
// notAfter, for the given names (IP addresses or DNS names).
func (ca *testCA) leaf(t *testing.T, key crypto.Signer, notBefore, notAfter time.Time, names ...string) tls.Certificate {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func tlsServer(t *testing.T, cfg *tls.Config, hsts bool) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hsts {
			w.Header().Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		fmt.Fprint(w, "ok")
	}))
	srv.TLS = cfg
	// The refused handshakes are the point; the server need not log them.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func tlsSuite(url string) string {
	return fmt.Sprintf(`
security "edge-tls" {
  scope { allow = ["127.0.0.1"] }
  check "tls" {
    url         = %q
    ca_file     = "ca.pem"
    expiry_days = 30
  }
}
`, url)
}

func TestTLSWeaknessesAreFound(t *testing.T) {
	ca := newCA(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	// Expired, issued for another host, a 1024-bit key, TLS 1.0 and an RSA
	// key-exchange CBC suite offered, no HSTS.
	cert := ca.leaf(t, small, time.Now().Add(-60*24*time.Hour), time.Now().Add(-24*time.Hour), "other.test")
	url := tlsServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10,
		CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}, false)
	r := runSuite(t, tlsSuite(url), map[string]string{"ca.pem": ca.pem})
	want := []string{"tls/cert-expired", "tls/hostname-mismatch", "tls/hsts-missing", "tls/tls10-accepted", "tls/tls11-accepted", "tls/weak-cipher", "tls/weak-key"}
	if got := r.ids(); !slices.Equal(got, want) {
		t.Fatalf("findings:\n got %v\nwant %v\n%s", got, want, r.suite.Message)
	}
	if f := r.finding("tls/weak-cipher"); f.Detail == "" || !contains([]string{"critical", "high"}, f.Severity) {
		t.Errorf("weak cipher: %+v", f)
	}
	if r.finding("tls/cert-expired").Severity != "critical" {
		t.Errorf("an expired certificate is critical")
	}
}

func TestTLSUntrustedChainAndExpiringSoon(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := other.leaf(t, key, time.Now().Add(-time.Hour), time.Now().Add(10*24*time.Hour), "127.0.0.1")
	url := tlsServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, true)
	r := runSuite(t, tlsSuite(url), map[string]string{"ca.pem": ca.pem})
	if got, want := r.ids(), []string{"tls/cert-expiring", "tls/untrusted-chain"}; !slices.Equal(got, want) {
		t.Fatalf("findings:\n got %v\nwant %v", got, want)
	}
}

func TestHardenedTLSGivesNoFinding(t *testing.T) {
	ca := newCA(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := ca.leaf(t, key, time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour), "127.0.0.1", "bank.test")
	url := tlsServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, true)
	r := runSuite(t, tlsSuite(url), map[string]string{"ca.pem": ca.pem})
	if len(r.sum.Findings) != 0 || r.suite.Status != result.Passed {
		for _, f := range r.sum.Findings {
			t.Logf("false positive: %s: %s", f.ID, f.Detail)
		}
		t.Fatalf("suite %s: %s", r.suite.Status, r.suite.Message)
	}
}

func TestPlainHTTPIsAFinding(t *testing.T) {
	base, _ := startAPI(t, false)
	r := runSuite(t, tlsSuite(base), map[string]string{"ca.pem": newCA(t).pem})
	if got := r.ids(); !slices.Equal(got, []string{"tls/no-tls"}) {
		t.Fatalf("findings %v", got)
	}
}
