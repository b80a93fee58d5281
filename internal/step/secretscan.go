package step

import (
	"regexp"
	"strings"
)

// Secret-looking values in what a target sends back (an exposed .env, an
// actuator page, a login's answer) are masked in evidence even though
// cloudtest never knew them. The rules are a subset of gitleaks' default
// rule set (github.com/gitleaks/gitleaks, config/gitleaks.toml, MIT
// licence): generic-api-key, aws-access-token, private-key, jwt,
// github-pat and its siblings, stripe-access-token, slack tokens and
// gcp-api-key, slack-webhook-url, plus the password of a connection string
// (with or without a user) and a quoted value with spaces. gitleaks' rules
// find secrets to report them, so they weigh false positives with an
// entropy threshold; masking errs the other way: the generic rule here
// has no entropy test and takes values from 4 characters (DB_PASSWORD=hunter2).
// No Go library keeps gitleaks' rules apart from gitleaks itself, whose
// detector would bring its whole configuration machinery for this.
type secretRule struct {
	re *regexp.Regexp
	// group is the submatch that is the secret (0: the whole match).
	group int
	// hints are lower-case words one of which every match holds: a text
	// with none of them is not searched (most answers hold none).
	hints []string
}

// assignedCredentialHints are the words (lower case) of the name a credential is assigned to in the rules below.
var assignedCredentialHints = []string{"access", "auth", "api", "credential", "creds", "key", "passw", "pwd", "secret", "token", "session", "cookie"}

var secretRules = []secretRule{
	// private-key: the key's body, between its BEGIN and END lines.
	{regexp.MustCompile(`(?i)-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----([\s\S]*?)-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----`), 1, []string{"private key"}},
	// jwt
	{regexp.MustCompile(`\bey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9/\\_-]{17,}\.(?:[a-zA-Z0-9/\\_-]{10,}={0,2})?`), 0, []string{"ey"}},
	// aws-access-token
	{regexp.MustCompile(`\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b`), 0, []string{"akia", "asia", "abia", "acca", "a3t"}},
	// github-pat, github-oauth, github-app-token, github-refresh-token, github-fine-grained-pat
	{regexp.MustCompile(`\b(?:gh[pousr]_[0-9a-zA-Z]{36}|github_pat_\w{82})`), 0, []string{"gh", "github_pat_"}},
	// stripe-access-token
	{regexp.MustCompile(`\b(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99}`), 0, []string{"sk_", "rk_"}},
	// slack-bot-token, slack-user-token and the other xox tokens
	{regexp.MustCompile(`\bxox[abeprs]-[0-9A-Za-z-]{10,}`), 0, []string{"xox"}},
	// gcp-api-key
	{regexp.MustCompile(`\bAIza[\w-]{35}`), 0, []string{"aiza"}},
	// slack-webhook-url: the path after the host is the secret
	{regexp.MustCompile(`(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9+/]{43,56})`), 1, []string{"hooks.slack.com"}},
	// a connection string's password: scheme://user:password@host, with
	// or without a user (redis://:password@host)
	{regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s"']*:([^@\s"']+)@`), 1, []string{"://"}},
	// a quoted value with spaces assigned to a credential's name
	// (PGPASSWORD='two words'): the generic rule below stops at a space.
	{regexp.MustCompile(`(?i)[\w.-]{0,50}?(?:access|auth|api|credential|creds|key|passw(?:or)?d|pwd|secret|token|session|cookie)[\w.-]{0,20}['"]?[ \t]{0,3}(?:=|:)[ \t]{0,3}'([^'\n]{1,300})'`), 1, assignedCredentialHints},
	{regexp.MustCompile(`(?i)[\w.-]{0,50}?(?:access|auth|api|credential|creds|key|passw(?:or)?d|pwd|secret|token|session|cookie)[\w.-]{0,20}['"]?[ \t]{0,3}(?:=|:)[ \t]{0,3}"([^"\n]{1,300})"`), 1, assignedCredentialHints},
	// a credential after its scheme (Authorization: Bearer …, as
	// gitleaks' curl-auth-header and authorization rules read it)
	{regexp.MustCompile(`(?i)\b(?:Bearer|Basic|Digest|Token)\s+([A-Za-z0-9._~+/=-]{8,})`), 1, []string{"bearer", "basic", "digest", "token"}},
	// generic-api-key: a value assigned to a name that says it is a
	// credential (access, auth, api, credential, creds, key, password,
	// secret, token; and, beyond gitleaks, session and cookie), in .env,
	// YAML, JSON or a query.
	{regexp.MustCompile(`(?i)[\w.-]{0,50}?(?:access|auth|(?-i:[Aa]pi|API)|credential|creds|key|passw(?:or)?d|pwd|secret|token|session|cookie)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}([^\s\x60'",;&<>]{4,300})`), 1, assignedCredentialHints},
}

// MaskSecrets replaces the secret-looking values in text (of a response
// kept as evidence) with [REDACTED], keeping the names around them.
func MaskSecrets(text string) string {
	if text == "" {
		return text
	}
	// The hints are looked for in the text as it came: masking only
	// removes words, so a rule whose hint is gone finds nothing anyway.
	lower := strings.ToLower(text)
	for _, r := range secretRules {
		if hinted(lower, r.hints) {
			text = maskRule(text, r)
		}
	}
	return maskCutPrivateKey(text)
}

func hinted(lower string, hints []string) bool {
	for _, h := range hints {
		if strings.Contains(lower, h) {
			return true
		}
	}
	return false
}

// privateKeyBegin is a private key's BEGIN line.
var privateKeyBegin = regexp.MustCompile(`(?i)-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----`)

// maskCutPrivateKey masks the body of a private key whose END line is
// not in the text (an excerpt cut in the middle of the key): everything
// after its BEGIN line is the key.
func maskCutPrivateKey(text string) string {
	if !strings.Contains(text, "PRIVATE KEY") && !strings.Contains(strings.ToUpper(text), "PRIVATE KEY") {
		return text
	}
	locs := privateKeyBegin.FindAllStringIndex(text, -1)
	if len(locs) == 0 {
		return text
	}
	last := locs[len(locs)-1]
	rest := text[last[1]:]
	if strings.Contains(strings.ToUpper(rest), "-----END") || strings.TrimSpace(rest) == "" || strings.TrimSpace(rest) == Redacted {
		return text
	}
	return text[:last[1]] + "\n" + Redacted
}

func maskRule(text string, r secretRule) string {
	idx := r.re.FindAllStringSubmatchIndex(text, -1)
	if len(idx) == 0 {
		return text
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		start, end := m[2*r.group], m[2*r.group+1]
		if start < 0 || start < last || text[start:end] == Redacted {
			continue
		}
		if strings.TrimSpace(text[start:end]) == "" {
			continue
		}
		b.WriteString(text[last:start])
		// A key's body keeps its lines apart from BEGIN and END.
		lead, trail := "", ""
		if strings.HasPrefix(text[start:end], "\n") {
			lead = "\n"
		}
		if strings.HasSuffix(text[start:end], "\n") {
			trail = "\n"
		}
		b.WriteString(lead + Redacted + trail)
		last = end
	}
	b.WriteString(text[last:])
	return b.String()
}
