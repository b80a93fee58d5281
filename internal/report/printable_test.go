package report

import (
	"strings"
	"testing"
)

func TestThePageIsMadePrintableAcrossWrites(t *testing.T) {
	in := "a\x1b[31m 中文\r\nb\u202ec\x07"
	// Every cut of the input into two writes gives the same page.
	for cut := 0; cut <= len(in); cut++ {
		var b strings.Builder
		p := &printableStream{w: &b}
		p.Write([]byte(in[:cut]))
		p.Write([]byte(in[cut:]))
		p.flush()
		if want := `a\x1b[31m 中文` + "\n" + `b\u202ec\x07`; b.String() != want {
			t.Fatalf("cut at %d: %q, want %q", cut, b.String(), want)
		}
	}
}
