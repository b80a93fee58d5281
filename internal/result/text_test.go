package result

import "testing"

func TestPrintableShowsControlCharactersAsText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain text, 中文 and tabs\tand\nlines", "plain text, 中文 and tabs\tand\nlines"},
		{"\x1b[31mred\x07", `\x1b[31mred\x07`},
		{"a\r\nb\rc", "a\nb\\x0dc"},
		{"csi \u009b2J, rlo \u202eevil", `csi \u009b2J, rlo \u202eevil`},
		{"bad \xff byte", `bad \xff byte`},
		{"nul \x00 del \x7f", `nul \x00 del \x7f`},
	} {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if NeedsEscape(tt.in) != (tt.in != tt.want) {
			t.Errorf("NeedsEscape(%q) = %v", tt.in, NeedsEscape(tt.in))
		}
	}
}
