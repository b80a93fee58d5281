package step

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Redactor removes secrets from everything that is kept for the report.
// A secret is replaced in every encoding it is sent or stored in: as is,
// inside a JSON string (once or twice, as an echoing target returns it),
// URL-encoded (query, form, path), HTML-escaped and in base64; a base64
// token that decodes to text holding a secret (Basic credentials
// "user:secret") is replaced whole.
type Redactor struct {
	secrets []string // as given, longest first
	forms   *strings.Replacer
	hasAny  bool
	longest int // the length of the longest form
}

// Redacted replaces a secret wherever it appears.
const Redacted = "[REDACTED]"

// minForm is the shortest encoded form replaced: shorter ones would
// replace unrelated text.
const minForm = 4

// NewRedactor redacts the given values (the sensitive variables), longest first.
func NewRedactor(secrets []string) *Redactor {
	s := make([]string, 0, len(secrets))
	seen := map[string]bool{}
	for _, x := range secrets {
		if x != "" && !seen[x] {
			seen[x] = true
			s = append(s, x)
		}
	}
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	r := &Redactor{secrets: s}
	if len(s) == 0 {
		return r
	}
	var forms []string
	have := map[string]bool{}
	for _, sec := range s {
		for i, f := range encodings(sec) {
			if (i == 0 || len(f) >= minForm) && !have[f] {
				have[f] = true
				forms = append(forms, f)
			}
		}
	}
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	if len(forms) > 0 {
		r.longest = len(forms[0])
	}
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, Redacted)
	}
	r.forms, r.hasAny = strings.NewReplacer(pairs...), true
	return r
}

// With returns a redactor that also redacts extra (captured credentials).
func (r *Redactor) With(extra ...string) *Redactor {
	if len(extra) == 0 {
		return r
	}
	var base []string
	if r != nil {
		base = r.secrets
	}
	return NewRedactor(append(append([]string(nil), base...), extra...))
}

// Secrets returns the values redacted (not their encodings).
func (r *Redactor) Secrets() []string {
	if r == nil {
		return nil
	}
	return append([]string(nil), r.secrets...)
}

// encodings returns the forms a secret is written in, the secret first.
func encodings(s string) []string {
	jsonInner := func(s string, escapeHTML bool) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(escapeHTML)
		enc.Encode(s)
		b := bytes.TrimSpace(buf.Bytes())
		return string(b[1 : len(b)-1])
	}
	quoted := strconv.Quote(s)
	out := []string{s,
		jsonInner(s, true), jsonInner(s, false),
		jsonInner(jsonInner(s, true), true), jsonInner(jsonInner(s, false), false),
		quoted[1 : len(quoted)-1],
		url.QueryEscape(s), url.PathEscape(s), strings.ReplaceAll(url.QueryEscape(s), "+", "%20"),
		html.EscapeString(s),
	}
	// A secret used as a header name is kept in canonical case
	// (Hdr-S3cretName77 becomes Hdr-S3cretname77) and HTTP/2 lower-cases it.
	if c := http.CanonicalHeaderKey(s); c != s {
		out = append(out, c, strings.ToLower(s))
	}
	b := []byte(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		out = append(out, enc.EncodeToString(b))
	}
	// Outside ASCII, the same text in the other Unicode normalization
	// forms (a target that stored "Zürich" decomposed), and each with
	// every character outside ASCII escaped, as a migration finding of
	// another normalization shows it.
	if !isASCII(s) {
		for _, f := range []string{s, norm.NFC.String(s), norm.NFD.String(s)} {
			if f != s {
				out = append(out, f)
			}
			q := strconv.QuoteToASCII(f)
			out = append(out, q[1:len(q)-1])
		}
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

var (
	// postgres://user:secret@host, mysql://user:secret@host
	urlPassword = regexp.MustCompile(`(://[^:/@\s]+:)[^@\s]+@`)
	// go-sql-driver form: user:secret@tcp(host)
	mysqlPassword = regexp.MustCompile(`(^|[\s"'=])([^:@\s"'=/]+:)[^@\s]+@(tcp|unix)\(`)
	// key=value DSNs: password=secret
	kvPassword = regexp.MustCompile(`(?i)(password=)[^\s&]+`)
	// base64 tokens long enough to hold a credential ("user:pw" is 12
	// bytes at least in practice), in the standard or URL alphabet.
	base64Token = regexp.MustCompile(`[A-Za-z0-9+/_-]{8,}={0,2}`)
)

// String redacts secrets and DSN passwords.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	if r.hasAny {
		s = r.forms.Replace(s)
		s = r.base64(s)
		s = replaceDecoded(s, r.secrets)
	}
	// Every DSN pattern below needs an @ or an =; most messages (and the
	// empty ones of passed checks, once per check under load) have neither.
	if !strings.ContainsAny(s, "@=") {
		return s
	}
	s = urlPassword.ReplaceAllString(s, "${1}"+Redacted+"@")
	s = mysqlPassword.ReplaceAllString(s, "${1}${2}"+Redacted+"@${3}(")
	return kvPassword.ReplaceAllString(s, "${1}"+Redacted)
}

// base64 replaces base64 tokens whose decoded text holds a secret.
func (r *Redactor) base64(s string) string {
	return base64Token.ReplaceAllStringFunc(s, func(tok string) string {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			b, err := enc.DecodeString(tok)
			if err != nil {
				continue
			}
			for _, sec := range r.secrets {
				if strings.Contains(string(b), sec) {
					return Redacted
				}
			}
			return tok
		}
		return tok
	})
}

// secretHeaders always carry credentials.
var secretHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true, "Set-Cookie2": true,
	"X-Api-Key": true, "Api-Key": true, "X-Amz-Security-Token": true, "X-Vault-Token": true,
}

// secretHeaderWords make any header whose name holds one a credential
// (X-Auth-Token, X-Csrf-Token, X-Session-Id, X-Client-Secret).
var secretHeaderWords = []string{"token", "secret", "password", "passwd", "api-key", "apikey", "session", "credential", "signature", "cookie"}

// SecretHeader reports whether a header's value is a credential, redacted
// from every excerpt whatever it holds.
func SecretHeader(name string) bool {
	if secretHeaders[http.CanonicalHeaderKey(name)] {
		return true
	}
	n := strings.ToLower(name)
	if strings.HasPrefix(n, "access-control-") {
		// CORS headers name credentials and headers, they carry none
		// (Access-Control-Allow-Credentials: true, …-Allow-Headers: X-Api-Key).
		return false
	}
	for _, w := range secretHeaderWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Headers returns the headers as a flat map with credentials redacted.
func (r *Redactor) Headers(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, vs := range h {
		v := strings.Join(vs, ", ")
		if SecretHeader(k) {
			v = Redacted
		} else {
			v = r.String(v)
		}
		out[r.String(k)] = v
	}
	return out
}

// maxExcerpt bounds the bodies kept in results.
const maxExcerpt = 8 << 10

// Body redacts and cuts a body for the report; cut says whether it was cut.
func (r *Redactor) Body(b []byte) (string, bool) {
	return r.body(b, false)
}

// ResponseBody is Body for what a target (or a database) sent back: the
// secret-looking values in it are masked too (MaskSecrets), although
// cloudtest never knew them: a token in a login's answer, the keys of an
// exposed file, a private key even when the cut left out its END line.
func (r *Redactor) ResponseBody(b []byte) (string, bool) {
	return r.body(b, true)
}

func (r *Redactor) body(b []byte, mask bool) (string, bool) {
	s, cut := r.Excerpt(b, maxExcerpt, mask)
	if !cut {
		return s, false
	}
	return s + "\n… (cut, " + strconv.Itoa(len(b)) + " bytes in all)", true
}

// cutMargin is how far past a cut the text is redacted before it is cut:
// more than any secret-looking value MaskSecrets finds (a token's 300
// bytes, an assignment's) is long.
const cutMargin = 1 << 10

// Excerpt is the first n bytes of b (at most; never half a character)
// with its secrets redacted and, with mask, its secret-looking values
// masked; cut says whether b was longer. It redacts before it cuts, so
// that a secret across the cut is not cut in two and shown in part: the
// text is redacted up to a margin past n (the whole of it when the
// redactions shrank that window so much that its end came near n).
func (r *Redactor) Excerpt(b []byte, n int, mask bool) (string, bool) {
	clean := func(b []byte) string {
		s := r.String(string(b))
		if mask {
			s = MaskSecrets(s)
		}
		return s
	}
	margin := cutMargin
	if r != nil && 2*r.longest+64 > margin {
		margin = 2*r.longest + 64 // past the longest form (\u00XX escapes make one 6 times the secret)
	}
	var s string
	if len(b) > n+margin {
		s = clean(validPrefix(b, n+margin))
		if len(s) < n+margin/2 {
			s = clean(b)
		}
	} else {
		s = clean(b)
	}
	if len(s) <= n { // all of b, redacted: it fits
		return s, false
	}
	return Cut(s, n), true
}

// Cut is s cut to at most n bytes, never inside a character nor inside
// a [REDACTED] placeholder (a cut message would show "[REDAC").
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = string(validPrefix([]byte(s), n))
	if i := strings.LastIndex(s, "["); i >= 0 && strings.HasPrefix(Redacted, s[i:]) {
		s = s[:i]
	}
	return s
}

// validPrefix is b cut to at most n bytes, never inside a character.
func validPrefix(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	b = b[:n]
	// Back off over the bytes of a last character cut short (only those:
	// a body that is no UTF-8 at all keeps its n bytes).
	j := len(b) - 1
	for j > 0 && j > len(b)-utf8.UTFMax && !utf8.RuneStart(b[j]) {
		j--
	}
	if j >= 0 && !utf8.FullRune(b[j:]) {
		b = b[:j]
	}
	return b
}
