package result

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Printable makes text from a target or a configuration safe to show on a
// terminal or in a document: every control character except newline and
// tab (ESC, BEL, CR, DEL, the C1 controls such as CSI) and every Unicode
// bidirectional override is written as a visible Go escape (\x1b, \u202e),
// and bytes that are not UTF-8 as \xNN. A message can then neither move
// the cursor, retitle the window, ring the bell, hide text nor reorder it.
// CRLF line ends become plain newlines.
func Printable(s string) string {
	if !NeedsEscape(s) {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			b.WriteString(escapeRune(r))
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// NeedsEscape reports whether Printable would change s.
func NeedsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || unsafeRune(r) {
			return true
		}
		i += n
	}
	return false
}

func unsafeRune(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true // bidirectional overrides, isolates and marks
	}
	return false
}

func escapeRune(r rune) string {
	if r < 0x80 {
		return fmt.Sprintf(`\x%02x`, r)
	}
	return fmt.Sprintf(`\u%04x`, r)
}
