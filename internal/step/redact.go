package step

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Redactor removes secrets from everything that is kept for the report.
type Redactor struct {
	secrets []string
}

// Redacted replaces a secret wherever it appears.
const Redacted = "[REDACTED]"

// NewRedactor redacts the given values (the sensitive variables), longest first.
func NewRedactor(secrets []string) *Redactor {
	s := append([]string(nil), secrets...)
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	return &Redactor{secrets: s}
}

var (
	// postgres://user:secret@host, mysql://user:secret@host
	urlPassword = regexp.MustCompile(`(://[^:/@\s]+:)[^@\s]+@`)
	// go-sql-driver form: user:secret@tcp(host)
	mysqlPassword = regexp.MustCompile(`(^|[\s"'=])([^:@\s"'=/]+:)[^@\s]+@(tcp|unix)\(`)
	// key=value DSNs: password=secret
	kvPassword = regexp.MustCompile(`(?i)(password=)[^\s&]+`)
)

// String redacts secrets and DSN passwords.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	for _, sec := range r.secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
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

var secretHeaders = map[string]bool{"Authorization": true, "Cookie": true, "Set-Cookie": true, "Proxy-Authorization": true}

// Headers returns the headers as a flat map with credentials redacted.
func (r *Redactor) Headers(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, vs := range h {
		v := strings.Join(vs, ", ")
		if secretHeaders[http.CanonicalHeaderKey(k)] {
			v = Redacted
		} else {
			v = r.String(v)
		}
		out[k] = v
	}
	return out
}

// maxExcerpt bounds the bodies kept in results.
const maxExcerpt = 8 << 10

// Body redacts and cuts a body for the report; cut says whether it was cut.
func (r *Redactor) Body(b []byte) (string, bool) {
	if len(b) <= maxExcerpt {
		return r.String(string(b)), false
	}
	cut := b[:maxExcerpt]
	for len(cut) > 0 && !utf8.Valid(cut) {
		cut = cut[:len(cut)-1]
	}
	return r.String(string(cut)) + "\n… (cut, " + strconv.Itoa(len(b)) + " bytes in all)", true
}
