package security

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

const refTLS = "RFC 8996; NIST SP 800-52r2"

// weakSuites are the TLS 1.0-1.2 cipher suites without forward secrecy or
// with broken ciphers (RC4, 3DES, CBC with SHA-256 MAC): the ones Go marks
// insecure plus the RSA key-exchange suites.
func weakSuites() []*tls.CipherSuite {
	out := append([]*tls.CipherSuite(nil), tls.InsecureCipherSuites()...)
	for _, cs := range tls.CipherSuites() {
		if strings.HasPrefix(cs.Name, "TLS_RSA_") {
			out = append(out, cs)
		}
	}
	return out
}

// allSuites offers everything, so that a refused old version is refused
// for its version, not for want of a common cipher suite.
func allSuites() []uint16 {
	var ids []uint16
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		ids = append(ids, cs.ID)
	}
	return ids
}

// tlsCheck connects to the endpoint several times, each time offering
// only what must be refused (TLS 1.0, TLS 1.1, weak cipher suites), then
// judges the certificate chain, host name, expiry and key, and HSTS.
type tlsCheck struct {
	URL, CAFile, ServerName string
	ExpiryDays, MinRSABits  int
	HSTS                    bool
}

var tlsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "url"}, {Name: "ca_file"}, {Name: "server_name"}, {Name: "expiry_days"}, {Name: "min_rsa_bits"}, {Name: "hsts"},
}}

func init() {
	register(checkKind{name: "tls", rank: 10, schema: tlsSchema, untargeted: true,
		defaults: func() settings { return &tlsCheck{ExpiryDays: 30, MinRSABits: 2048, HSTS: true} }})
}

func (c *tlsCheck) decode(_ *hcl.Block, content *hcl.BodyContent, dc *config.DecodeContext) hcl.Diagnostics {
	return attrs{
		"url": stringAttr(dc, &c.URL), "ca_file": stringAttr(dc, &c.CAFile), "server_name": stringAttr(dc, &c.ServerName),
		"expiry_days": positiveAttr(dc, &c.ExpiryDays), "min_rsa_bits": positiveAttr(dc, &c.MinRSABits),
		"hsts": func(a *hcl.Attribute) (d hcl.Diagnostics) {
			c.HSTS, d = dc.Bool(a)
			return d
		},
	}.decode(content)
}

// tlsEndpoint is where the tls check connects: the URL, its host:port
// (where findings are) and the name the certificate must carry.
type tlsEndpoint struct {
	raw, addr, name string
	guard           *Guard
}

func (c *tlsCheck) run(ctx context.Context, ss *session) ([]result.Finding, error) {
	ep, err := c.endpoint(ss)
	if err != nil || ep.addr == "" {
		return ep.plain(), err
	}
	out, err := ep.oldVersions(ctx)
	if err != nil {
		return out, err
	}
	weak, err := ep.weakCiphers(ctx)
	out = append(out, weak...)
	if err != nil {
		return out, err
	}
	st, err := ep.handshake(ctx, &tls.Config{MinVersion: tls.VersionTLS12})
	if err != nil {
		var de *dialError
		if errors.As(err, &de) {
			return out, de.err
		}
		out = append(out, result.Finding{ID: "tls/no-modern-tls", Check: "tls", Severity: "high", Title: "No TLS 1.2 or 1.3 handshake", Where: ep.addr,
			Detail: "A handshake offering TLS 1.2 and 1.3 failed: " + err.Error(), Reference: refTLS})
		return out, nil
	}
	out = append(out, judgeCertificate(ss, c, st, ep.name, ep.addr)...)
	if !c.HSTS {
		return out, nil
	}
	hsts, err := ep.hsts(ctx, ss)
	return append(out, hsts...), err
}

// endpoint reads the check's URL (the target's when it has none); a plain
// http URL is an endpoint without an address.
func (c *tlsCheck) endpoint(ss *session) (*tlsEndpoint, error) {
	ep := &tlsEndpoint{raw: c.URL, guard: ss.guard}
	if ep.raw == "" {
		ep.raw = ss.base
	}
	u, err := url.Parse(ep.raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("the tls check needs an https URL (url = \"https://host:port\" or the suite's target); found %q", ep.raw)
	}
	if u.Scheme != "https" {
		return ep, nil
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	ep.addr = net.JoinHostPort(u.Hostname(), port)
	ep.name = c.ServerName
	if ep.name == "" {
		ep.name = u.Hostname()
	}
	return ep, nil
}

// plain is the finding of an endpoint that is not served over TLS.
func (ep *tlsEndpoint) plain() []result.Finding {
	if ep == nil {
		return nil
	}
	return []result.Finding{{ID: "tls/no-tls", Check: "tls", Severity: "high", Title: "Endpoint is not served over TLS", Where: ep.raw,
		Detail: "The endpoint is plain http: credentials and customer data cross the network unencrypted.", Reference: refTLS + "; CWE-319"}}
}

func (ep *tlsEndpoint) handshake(ctx context.Context, cfg *tls.Config) (*tls.ConnectionState, error) {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	raw, err := ep.guard.Dial(dctx, "tcp", ep.addr)
	if err != nil {
		return nil, &dialError{err}
	}
	defer raw.Close()
	cfg.ServerName = ep.name
	cfg.InsecureSkipVerify = true // verification is done by judgeCertificate, against the given CA, to report each problem
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(dctx); err != nil {
		return nil, err
	}
	st := conn.ConnectionState()
	return &st, nil
}

// oldVersions offers TLS 1.0, then TLS 1.1, alone.
func (ep *tlsEndpoint) oldVersions(ctx context.Context) ([]result.Finding, error) {
	var out []result.Finding
	for _, v := range []struct {
		version uint16
		label   string
	}{{tls.VersionTLS10, "1.0"}, {tls.VersionTLS11, "1.1"}} {
		st, err := ep.handshake(ctx, &tls.Config{MinVersion: v.version, MaxVersion: v.version, CipherSuites: allSuites()})
		var de *dialError
		if errors.As(err, &de) {
			return out, de.err
		}
		if err == nil && st.Version == v.version {
			out = append(out, result.Finding{ID: "tls/tls" + strings.ReplaceAll(v.label, ".", "") + "-accepted", Check: "tls", Severity: "high",
				Title: "TLS " + v.label + " accepted", Where: ep.addr,
				Detail:    fmt.Sprintf("The server completed a TLS %s handshake (cipher %s); TLS 1.0 and 1.1 are deprecated and must be refused.", v.label, tls.CipherSuiteName(st.CipherSuite)),
				Reference: refTLS + "; CWE-327", Evidence: &result.Exchange{Protocol: "tls", URL: ep.addr}})
		}
	}
	return out, nil
}

// weakCiphers offers only weak suites, repeatedly without the one chosen,
// to list every weak suite the server accepts (bounded by their number).
func (ep *tlsEndpoint) weakCiphers(ctx context.Context) ([]result.Finding, error) {
	weak := weakSuites()
	var accepted []string
	for len(weak) > 0 {
		ids := make([]uint16, len(weak))
		for i, cs := range weak {
			ids[i] = cs.ID
		}
		st, err := ep.handshake(ctx, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12, CipherSuites: ids})
		var de *dialError
		if errors.As(err, &de) {
			return nil, de.err
		}
		if err != nil {
			break
		}
		accepted = append(accepted, tls.CipherSuiteName(st.CipherSuite))
		rest := weak[:0]
		for _, cs := range weak {
			if cs.ID != st.CipherSuite {
				rest = append(rest, cs)
			}
		}
		if len(rest) == len(weak) {
			break
		}
		weak = rest
	}
	if len(accepted) == 0 {
		return nil, nil
	}
	return []result.Finding{{ID: "tls/weak-cipher", Check: "tls", Severity: "high", Title: "Weak cipher suites accepted", Where: ep.addr,
		Detail:    "The server accepted: " + strings.Join(accepted, ", ") + " (no forward secrecy or a broken cipher).",
		Reference: "NIST SP 800-52r2 §3.3.1; CWE-327", Evidence: &result.Exchange{Protocol: "tls", URL: ep.addr}}}, nil
}

// hsts reads Strict-Transport-Security whatever the chain (the certificate
// is judged on its own), so that one problem does not hide another.
func (ep *tlsEndpoint) hsts(ctx context.Context, ss *session) ([]result.Finding, error) {
	a, err := ss.sendWith(ctx, ss.senv.ClientTLS(ep.raw, &tls.Config{InsecureSkipVerify: true, ServerName: ep.name}), http.MethodGet, ep.raw, nil, nil)
	if err != nil {
		return nil, err
	}
	maxAge := 0
	for _, part := range strings.Split(a.header.Get("Strict-Transport-Security"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(strings.ToLower(part)), "max-age="); ok {
			maxAge, _ = strconv.Atoi(strings.Trim(v, `"`))
		}
	}
	if maxAge >= 15552000 {
		return nil, nil
	}
	return []result.Finding{finding("tls", "hsts-missing", "medium", "No HTTP Strict Transport Security", ep.raw,
		fmt.Sprintf("Strict-Transport-Security is %q; it should be present with max-age of at least 180 days (15552000).", a.header.Get("Strict-Transport-Security")),
		"RFC 6797; CWE-319", a)}, nil
}

type dialError struct{ err error }

func (d *dialError) Error() string { return d.err.Error() }

func judgeCertificate(ss *session, c *tlsCheck, st *tls.ConnectionState, name, where string) []result.Finding {
	var out []result.Finding
	certs := st.PeerCertificates
	if len(certs) == 0 {
		return nil
	}
	leaf := certs[0]
	ev := &result.Exchange{Protocol: "tls", URL: where, ResponseBody: fmt.Sprintf("subject: %s\nissuer: %s\nnot before: %s\nnot after: %s\nDNS names: %v\nIP addresses: %v",
		leaf.Subject, leaf.Issuer, leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), leaf.DNSNames, leaf.IPAddresses)}
	add := func(rule, sev, title, detail, ref string) {
		out = append(out, result.Finding{ID: "tls/" + rule, Check: "tls", Severity: sev, Title: title, Where: where, Detail: detail, Reference: ref, Evidence: ev})
	}
	now := time.Now()
	switch {
	case now.After(leaf.NotAfter):
		add("cert-expired", "critical", "Certificate expired", fmt.Sprintf("The certificate expired on %s.", leaf.NotAfter.UTC().Format("2006-01-02")), "RFC 5280 §4.1.2.5; CWE-298")
	case now.Before(leaf.NotBefore):
		add("cert-not-yet-valid", "high", "Certificate not yet valid", fmt.Sprintf("The certificate is valid from %s.", leaf.NotBefore.UTC().Format("2006-01-02")), "RFC 5280 §4.1.2.5; CWE-298")
	case leaf.NotAfter.Sub(now) < time.Duration(c.ExpiryDays)*24*time.Hour:
		add("cert-expiring", "medium", "Certificate expires soon", fmt.Sprintf("The certificate expires on %s, within %d days.", leaf.NotAfter.UTC().Format("2006-01-02"), c.ExpiryDays), "RFC 5280 §4.1.2.5")
	}
	if err := leaf.VerifyHostname(name); err != nil {
		add("hostname-mismatch", "high", "Certificate does not match the host name", err.Error(), "RFC 6125; CWE-297")
	}
	roots, err := caPool(ss, c)
	if err != nil {
		add("untrusted-chain", "high", "Certificate chain cannot be checked", err.Error(), "RFC 5280 §6; CWE-295")
	} else {
		inter := x509.NewCertPool()
		for _, ic := range certs[1:] {
			inter.AddCert(ic)
		}
		// Expiry and host name are reported above; the chain is judged at a
		// time it is valid so that one problem is not reported twice.
		at := now
		if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
			at = leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at}); err != nil {
			add("untrusted-chain", "high", "Certificate chain not trusted", "The chain does not verify against the given CA: "+err.Error(), "RFC 5280 §6; CWE-295")
		}
	}
	switch k := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < c.MinRSABits {
			add("weak-key", "high", "Certificate key too small", fmt.Sprintf("The RSA key has %d bits; at least %d are required.", k.N.BitLen(), c.MinRSABits), "NIST SP 800-57 Part 1 §5.6; CWE-326")
		}
	case *ecdsa.PublicKey:
		if k.Curve.Params().BitSize < 256 {
			add("weak-key", "high", "Certificate key too small", fmt.Sprintf("The ECDSA key has %d bits; at least 256 are required.", k.Curve.Params().BitSize), "NIST SP 800-57 Part 1 §5.6; CWE-326")
		}
	}
	return out
}

// caPool is the CA of the check (ca_file), else the target's, else the system's.
func caPool(ss *session, c *tlsCheck) (*x509.CertPool, error) {
	file := c.CAFile
	if file == "" {
		if t, ok := ss.env.Config.Targets[ss.s.Target]; ok {
			file = t.TLS.CAFile
		}
	}
	if file == "" {
		return x509.SystemCertPool()
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(ss.env.Config.Dir, file)
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %s holds no PEM certificate", c.CAFile)
	}
	return pool, nil
}
