package step

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestRedactorReplacesEveryEncodingOfASecret(t *testing.T) {
	const pw = `p&<"\ @/:?#%+x`
	r := NewRedactor([]string{pw})
	js, _ := json.Marshal(pw)
	js2, _ := json.Marshal(string(js))
	for name, in := range map[string]string{
		"raw":         "password " + pw + " sent",
		"json":        `{"password":` + string(js) + `}`,
		"json twice":  `{"body":` + string(js2) + `}`,
		"query":       "/login?password=" + url.QueryEscape(pw),
		"path":        "/users/" + url.PathEscape(pw),
		"base64":      "X-Key: " + base64.StdEncoding.EncodeToString([]byte(pw)),
		"basic":       "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+pw)),
		"basic (url)": "t=" + base64.RawURLEncoding.EncodeToString([]byte("alice:"+pw)),
	} {
		got := r.String(in)
		if !strings.Contains(got, Redacted) || strings.Contains(got, "p&") || strings.Contains(got, `p\u0026`) {
			t.Errorf("%s: String(%q) = %q", name, in, got)
		}
	}
	if got := r.String("nothing secret: dGhlIHF1aWNrIGJyb3du"); got != "nothing secret: dGhlIHF1aWNrIGJyb3du" {
		t.Errorf("base64 of other text was changed: %q", got)
	}
	if r.With("tok-123456").String("Bearer tok-123456") != "Bearer "+Redacted {
		t.Error("With does not add a secret")
	}
}

func TestMaskSecretsKeepsNamesAndHidesValues(t *testing.T) {
	in := strings.Join([]string{
		"APP_NAME=demobank",
		"DB_PASSWORD=hunter22",
		"AWS_ACCESS_KEY_ID=AKIAQ3EGRIXRP4PLANTD",
		"AWS_SECRET_ACCESS_KEY=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",
		`{"token": "abcdef123", "user": "alice"}`,
		"DATABASE_URL=postgres://app:Pl4ntedUrlPass@db.internal:5432/bank",
		"Authorization: Bearer abcdefghijkl",
		"x=ghp_PlantedGithubToken000000000000000000 y=sk_live_51PlantedStripeKey0000",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlLXBsYW50ZWQ",
		"-----BEGIN RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEAplanted", "-----END RSA PRIVATE KEY-----",
		"LOG_LEVEL=info",
	}, "\n")
	got := MaskSecrets(in)
	for _, secret := range []string{"hunter22", "AKIAQ3EGRIXRP4PLANTD", "wJalrXUtnFEMI", "abcdef123", "Pl4ntedUrlPass", "abcdefghijkl",
		"ghp_Planted", "sk_live_", "eyJhbGciOiJIUzI1NiJ9", "MIIEowIBAAKCAQEAplanted"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q is still in:\n%s", secret, got)
		}
	}
	for _, kept := range []string{"APP_NAME=demobank", "DB_PASSWORD=", "AWS_SECRET_ACCESS_KEY=", `"user": "alice"`, "LOG_LEVEL=info",
		"postgres://app:", "@db.internal:5432/bank", "-----BEGIN RSA PRIVATE KEY-----\n"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q was lost from:\n%s", kept, got)
		}
	}
}

// A secret interpolated into a DSN as it is reaches the driver whole: the
// placeholders keep the parser from splitting it at its @ / : ? #.
func TestOpenDSNPassesAnInterpolatedPasswordWhole(t *testing.T) {
	const pw = `s3cr&t<p@ss/w:rd?#"q\ 10%+x`
	for _, tt := range []struct{ driver, dsn string }{
		{"postgres", "postgres://app:" + pw + "@127.0.0.1:5432/bank?sslmode=disable"},
		{"postgres", "host=127.0.0.1 user=app password=" + pw + " dbname=bank"},
		{"mysql", "app:" + pw + "@tcp(127.0.0.1:3306)/bank"},
		{"mysql", "mysql://app:" + pw + "@127.0.0.1/bank?timeout=5s"},
	} {
		db, password, err := openDSN(tt.driver, tt.dsn, []string{pw, "unrelated"})
		if err != nil {
			t.Errorf("%s: %v", tt.dsn, err)
			continue
		}
		db.Close()
		if password != pw {
			t.Errorf("%s: the driver got the password %q", tt.dsn, password)
		}
	}
	_, _, err := openDSN("postgres", "postgres://app:"+pw+"@127.0.0.1:badport/bank", []string{pw})
	if err == nil || strings.Contains(err.Error(), "s3cr") || strings.Contains(err.Error(), "w:rd") {
		t.Errorf("a bad DSN gave %v", err)
	}
}

// BenchmarkRedactorString redacts an 8 KB JSON excerpt with percent
// escapes (a failed step's response body), the costliest text it gets.
func BenchmarkRedactorString(b *testing.B) {
	r := NewRedactor([]string{`Tr0ub4dor&3/xK+9=ab`, `Pässw&rd/S3cr+t?=#`})
	body := strings.Repeat(`{"next":"\/login?u=alice%40bank&r=%2Fhome","name":"caf\u00e9"},`, 128)
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		r.String(body)
	}
}

// BenchmarkRedactorPlainURL is a load result's URL without escapes.
func BenchmarkRedactorPlainURL(b *testing.B) {
	r := NewRedactor([]string{`Tr0ub4dor&3/xK+9=ab`})
	for i := 0; i < b.N; i++ {
		r.String("http://127.0.0.1:8080/accounts/42/balance")
	}
}

// The decoded search replaces the escaped stretch only, keeping the text
// around it as written.
func TestRedactorReplacesTheSecretInDecodedText(t *testing.T) {
	r := NewRedactor([]string{`Pässw&rd/S3cr+t?=#`})
	for in, want := range map[string]string{
		`{"pw":"P\u00e4ssw\u0026rd\/S3cr+t?=#","u":"a\/b"}`:         `{"pw":"[REDACTED]","u":"a\/b"}`,
		`next=P%C3%A4ssw%26rd/S3cr%2Bt%3F%3D%23&x=%2F`:              `next=[REDACTED]&x=%2F`,
		`q=P%25c3%25a4ssw%2526rd%252FS3cr%252Bt%253F%253D%2523 end`: `q=[REDACTED] end`,
		`plain 100% \n text`: `plain 100% \n text`,
	} {
		if got := r.String(in); got != want {
			t.Errorf("%s\n got %s\nwant %s", in, got, want)
		}
	}
}

// The hints only skip rules that cannot match: masking with them gives
// what every rule run on every text gives.
func TestMaskSecretsHintsSkipOnlyRulesThatCannotMatch(t *testing.T) {
	texts := []string{
		"DB_PASSWORD=hunter22\nAPI_KEY: 'two words'\nx=AKIAQ3EGRIXRP4PLANTD",
		`{"Token": "abcdef123", "SessionId": "s-0123456789", "user": "alice"}`,
		"redis://:pw-planted@cache:6379 and https://hooks.slack.com/services/T0000000000000000000000000000000000000000000",
		"Authorization: BEARER abcdefghijkl; xoxb-0123456789-abc; AIzaSyPlantedGcpKey00000000000000000000",
		"ghp_PlantedGithubToken000000000000000000 rk_test_0123456789abc eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2ln",
		"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIEplanted\n-----END ENCRYPTED PRIVATE KEY-----",
		`{"status":"ok","balance":1200.5}`,
	}
	for _, text := range texts {
		all := text
		for _, r := range secretRules {
			all = maskRule(all, r)
		}
		if got := MaskSecrets(text); got != maskCutPrivateKey(all) {
			t.Errorf("with hints:\n%s\nwithout:\n%s", got, all)
		}
	}
}

// An excerpt cut inside a private key keeps its BEGIN line and nothing of
// the key after it.
func TestMaskSecretsHidesAPrivateKeyCutBeforeItsEnd(t *testing.T) {
	got := MaskSecrets("dump\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE\nAAAAMwAAAAtzc2gt")
	if strings.Contains(got, "b3BlbnNzaC1rZXkt") || strings.Contains(got, "AAAAMwAAAAtzc2gt") || !strings.HasPrefix(got, "dump\n-----BEGIN OPENSSH PRIVATE KEY-----\n"+Redacted) {
		t.Errorf("got %q", got)
	}
	whole := "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIplanted\n-----END EC PRIVATE KEY-----\nafter"
	if got := MaskSecrets(whole); got != "-----BEGIN EC PRIVATE KEY-----\n"+Redacted+"\n-----END EC PRIVATE KEY-----\nafter" {
		t.Errorf("a whole key: got %q", got)
	}
}

func TestCORSHeadersAreNoCredentials(t *testing.T) {
	for _, h := range []string{"Access-Control-Allow-Credentials", "access-control-allow-headers", "Access-Control-Expose-Headers"} {
		if SecretHeader(h) {
			t.Errorf("%s is taken for a credential", h)
		}
	}
	for _, h := range []string{"X-Client-Credential", "Authorization", "X-Session-Id"} {
		if !SecretHeader(h) {
			t.Errorf("%s is not taken for a credential", h)
		}
	}
}

func TestDuplicateKeysAreFound(t *testing.T) {
	for body, want := range map[string]string{
		`{"ok": false, "ok": true}`:                   "ok",
		`{"a": {"b": 1, "c": [1, {"d": 1, "d": 2}]}}`: "a.c.1.d",
		`[{"x": 1}, {"x": 2}]`:                        "",
		`{"a": 1, "b": {"a": 2}}`:                     "",
		`{"s": "ok", "t": "ok"}`:                      "",
	} {
		got, dup := duplicateKey(body)
		if dup != (want != "") || got != want {
			t.Errorf("%s: %q %v, want %q", body, got, dup, want)
		}
	}
}
