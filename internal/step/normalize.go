package step

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Encoders differ in which characters they escape: Python's
// urllib.parse.quote keeps / and encodes = and +, PHP and Python's json
// write / as \/, ensure_ascii writes ä as \u00e4, a proxy encodes a query
// twice. Rather than list every variant of every encoder, the redactor
// decodes the text it is given (percent escapes and JSON's backslash
// escapes, layer after layer) and looks for the secrets in what comes
// out; a match is replaced in the text as it was written, escapes and all.

// maxLayers bounds the decoding passes: a secret URL-encoded inside a
// JSON string that was URL-encoded again is three layers.
const maxLayers = 4

// decoded is a text after one or more decoding passes, with, for each of
// its bytes, the offset in the original text where the escape it came
// from starts (from has one more entry: the original's length).
type decoded struct {
	text string
	from []int
}

// mayBeEncoded reports whether s holds an escape the decoder reads; most
// texts (and every message of a passed check) have none and cost nothing.
func mayBeEncoded(s string) bool {
	return strings.ContainsAny(s, `%\`)
}

// decodeLayer decodes one layer of percent and JSON escapes of in (whose
// bytes come from the original at prev.from); ok is false when nothing
// was decoded.
func decodeLayer(prev decoded) (decoded, bool) {
	in := prev.text
	var b strings.Builder
	b.Grow(len(in))
	from := make([]int, 0, len(in)+1)
	changed := false
	emit := func(s string, at int) {
		for i := 0; i < len(s); i++ {
			from = append(from, prev.from[at])
		}
		b.WriteString(s)
	}
	for i := 0; i < len(in); {
		c := in[i]
		switch {
		case c == '%' && i+2 < len(in) && isHex(in[i+1]) && isHex(in[i+2]):
			emit(string([]byte{unhex(in[i+1])<<4 | unhex(in[i+2])}), i)
			i += 3
			changed = true
			continue
		case c == '\\' && i+1 < len(in):
			switch n := in[i+1]; n {
			case '/', '\\', '"', '\'':
				emit(string(n), i)
				i += 2
				changed = true
				continue
			case 'u':
				if r, w := jsonRune(in[i:]); w > 0 {
					emit(string(r), i)
					i += w
					changed = true
					continue
				}
			}
		}
		from = append(from, prev.from[i])
		b.WriteByte(c)
		i++
	}
	from = append(from, prev.from[len(in)])
	return decoded{text: b.String(), from: from}, changed
}

// jsonRune reads \uXXXX (or a surrogate pair \uD83D\uDE00) at the start of
// s; w is 0 when there is none.
func jsonRune(s string) (rune, int) {
	r1, ok := hex4(s)
	if !ok {
		return 0, 0
	}
	if utf16.IsSurrogate(r1) {
		if r2, ok := hex4(s[6:]); ok {
			if r := utf16.DecodeRune(r1, r2); r != utf8.RuneError {
				return r, 12
			}
		}
		return 0, 0
	}
	return r1, 6
}

func hex4(s string) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}
	var r rune
	for i := 2; i < 6; i++ {
		if !isHex(s[i]) {
			return 0, false
		}
		r = r<<4 | rune(unhex(s[i]))
	}
	return r, true
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// replaceDecoded replaces, in s, every stretch whose decoding (through up
// to maxLayers passes) holds one of secrets.
func replaceDecoded(s string, secrets []string) string {
	if len(secrets) == 0 || !mayBeEncoded(s) {
		return s
	}
	from := make([]int, len(s)+1)
	for i := range from {
		from[i] = i
	}
	d := decoded{text: s, from: from}
	type cut struct{ start, end int }
	var cuts []cut
	for layer := 0; layer < maxLayers; layer++ {
		next, ok := decodeLayer(d)
		if !ok {
			break
		}
		d = next
		for _, sec := range secrets {
			if len(sec) < minForm {
				continue
			}
			for off := 0; ; {
				i := strings.Index(d.text[off:], sec)
				if i < 0 {
					break
				}
				i += off
				cuts = append(cuts, cut{d.from[i], d.from[i+len(sec)]})
				off = i + len(sec)
			}
		}
		if !mayBeEncoded(d.text) {
			break
		}
	}
	if len(cuts) == 0 {
		return s
	}
	// Merge the stretches and replace each once.
	covered := make([]bool, len(s))
	for _, c := range cuts {
		for i := c.start; i < c.end; i++ {
			covered[i] = true
		}
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if !covered[i] {
			b.WriteByte(s[i])
			i++
			continue
		}
		for i < len(s) && covered[i] {
			i++
		}
		b.WriteString(Redacted)
	}
	return b.String()
}
