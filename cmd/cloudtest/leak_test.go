package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf16"
)

// A leak search runs a real `cloudtest run` and then looks for every
// planted secret, in every encoding it could have been written in, in
// every file of the run directory and in what the run printed on the
// terminal (stdout and stderr).

// leakRun is one run whose outputs are searched.
type leakRun struct {
	dir      string // the run directory
	terminal string // stdout and stderr
	code     int
}

// runForLeaks writes files (name → HCL) into a fresh suite directory and
// runs cloudtest on it with args.
func runForLeaks(t *testing.T, files map[string]string, args ...string) leakRun {
	t.Helper()
	suites := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(suites, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return runDirForLeaks(t, suites, args...)
}

// runDirForLeaks runs cloudtest on the suites of dir with args.
func runDirForLeaks(t *testing.T, dir string, args ...string) leakRun {
	t.Helper()
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(append(append([]string{"run", "--out", out}, args...), dir), &stdout, &stderr)
	return leakRun{dir: onlyRunDir(t, out), terminal: stdout.String() + stderr.String(), code: code}
}

// secretForms gives a secret in every encoding an output could hold it
// in: as sent (raw, URL query and path encoding, base64 in its four
// alphabets, inside a JSON string) and then as stored (inside a JSON
// string once or twice, HTML, XML, JavaScript), keyed by a name for the
// failure message. Forms shorter than 4 characters are left out.
func secretForms(secret string) map[string]string {
	jsonInner := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b[1 : len(b)-1])
	}
	jsonNoHTML := func(s string) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		b := bytes.TrimSpace(buf.Bytes())
		return string(b[1 : len(b)-1])
	}
	xmlText := func(s string) string {
		var buf bytes.Buffer
		xml.EscapeText(&buf, []byte(s))
		return buf.String()
	}
	sent := map[string]string{
		"raw":          secret,
		"query":        url.QueryEscape(secret),
		"path":         url.PathEscape(secret),
		"base64":       base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64-raw":   base64.RawStdEncoding.EncodeToString([]byte(secret)),
		"base64url":    base64.URLEncoding.EncodeToString([]byte(secret)),
		"base64url-rw": base64.RawURLEncoding.EncodeToString([]byte(secret)),
		"json":         jsonInner(secret),
		"json-nohtml":  jsonNoHTML(secret),
		// What other encoders write: PHP's json_encode (/ as \/, non-ASCII
		// as \u00e4), Python's json.dumps (ensure_ascii), both with & as
		// \u0026; urllib.parse.quote (keeps /, encodes = and +, in upper
		// or lower hex); a query encoded twice; a header name's canonical
		// and lower case.
		"json-php":      jsonVariant(secret, true, true, false),
		"json-php-amp":  jsonVariant(secret, true, true, true),
		"json-ascii":    jsonVariant(secret, false, true, false),
		"json-slash":    jsonVariant(secret, true, false, false),
		"json-slash-am": jsonVariant(secret, true, false, true),
		"pyquote":       pyQuote(secret, "/", false),
		"pyquote-lower": pyQuote(secret, "/", true),
		"pyquote-plus":  pyQuote(secret, "", false),
		"query2":        url.QueryEscape(url.QueryEscape(secret)),
		"pyquote2":      pyQuote(pyQuote(secret, "/", false), "/", false),
	}
	if c := http.CanonicalHeaderKey(secret); c != secret {
		sent["canonical"], sent["lower"] = c, strings.ToLower(secret)
	}
	stored := map[string]func(string) string{
		"":       func(s string) string { return s },
		"json/":  jsonInner,
		"json2/": func(s string) string { return jsonInner(jsonInner(s)) },
		"html/":  html.EscapeString,
		"tmpl/":  template.HTMLEscapeString,
		"xml/":   xmlText,
		"js/":    template.JSEscapeString,
	}
	out := map[string]string{}
	seen := map[string]bool{}
	for _, sk := range sortedKeys(sent) {
		for _, wk := range sortedKeys(stored) {
			f := stored[wk](sent[sk])
			if len(f) < 4 || seen[f] {
				continue
			}
			seen[f] = true
			out[wk+sk] = f
		}
	}
	return out
}

// jsonVariant writes s as the inside of a JSON string the way other
// encoders do: with / as \/, with every non-ASCII character as \uXXXX
// (lower-case hex, Python's ensure_ascii and PHP's default) and with & as
// \u0026.
func jsonVariant(s string, slash, ascii, amp bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString("\\" + string(r))
		case r == '/' && slash:
			b.WriteString(`\/`)
		case r == '&' && amp:
			b.WriteString(`\u0026`)
		case r < 0x20 || r > 0x7e && ascii:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// pyQuote is Python's urllib.parse.quote(s, safe): every byte but letters,
// digits, _.-~ and those of safe percent-encoded.
func pyQuote(s, safe string, lower bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.-~"+safe, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		f := "%%%02X"
		if lower {
			f = "%%%02x"
		}
		fmt.Fprintf(&b, f, c)
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// leak is one place a secret was found.
type leak struct {
	secret, form, where string
	count               int
}

func (l leak) String() string {
	return fmt.Sprintf("%s (%s) %d× in %s", l.secret, l.form, l.count, l.where)
}

// leaks returns every place any of the secrets (by label) was found.
func (r leakRun) leaks(t *testing.T, secrets map[string]string) []leak {
	t.Helper()
	places := map[string][]byte{"terminal": []byte(r.terminal)}
	err := filepath.Walk(r.dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !info.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(r.dir, path)
		places[rel] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []leak
	for _, label := range sortedKeys(secrets) {
		forms := secretForms(secrets[label])
		for _, where := range sortedKeys(places) {
			for _, fk := range sortedKeys(forms) {
				if n := bytes.Count(places[where], []byte(forms[fk])); n > 0 {
					out = append(out, leak{secret: label, form: fk, where: where, count: n})
				}
			}
		}
	}
	return out
}

// total adds up the counts of leaks.
func total(ls []leak) int {
	n := 0
	for _, l := range ls {
		n += l.count
	}
	return n
}

// expectNoLeak fails the test with every place a secret was found.
func (r leakRun) expectNoLeak(t *testing.T, secrets map[string]string) {
	t.Helper()
	ls := r.leaks(t, secrets)
	if len(ls) == 0 {
		return
	}
	var b strings.Builder
	for _, l := range ls {
		b.WriteString("\n  " + l.String())
	}
	t.Errorf("%d occurrences of a secret in the outputs of the run:%s", total(ls), b.String())
}

// expectFound fails unless text (the proof that the run did what the test
// means, such as a check's message) is in the named file of the run.
func (r leakRun) expectFound(t *testing.T, file, text string) {
	t.Helper()
	var b []byte
	if file == "terminal" {
		b = []byte(r.terminal)
	} else {
		var err error
		if b, err = os.ReadFile(filepath.Join(r.dir, file)); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Contains(b, []byte(text)) {
		t.Errorf("%s does not contain %q", file, text)
	}
}
