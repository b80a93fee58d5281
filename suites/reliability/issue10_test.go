package reliability

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestNumericIdsCapturedByTheWriteAreKeptAndTheirDuplicatesFound(t *testing.T) {
	// The ledger answers {"id":4} (a JSON number) and gives write 5 the id
	// of write 4.
	src := ledgerServer(t, `CLOUDTEST_TEST_FORGET = "1000", CLOUDTEST_TEST_DISORDER = "1", CLOUDTEST_TEST_NUMERIC_IDS = "1"`, "1500ms", "100ms", "", "")
	_, exp, _ := runExperiment(t, context.Background(), src)
	l := exp.Ledger
	if l == nil || l.Acknowledged < 10 || len(l.Lost) != 0 || l.Verified != l.Acknowledged {
		t.Fatalf("ledger %+v", l)
	}
	var dups []string
	for _, w := range l.Duplicates {
		dups = append(dups, fmt.Sprintf("%d:%s:%s", w.Seq, w.ID, w.Message))
	}
	if strings.Join(dups, ",") != "5:4:the same id as write 4" {
		t.Fatalf("duplicates %q, want write 5 with write 4's id 4", dups)
	}
	t.Logf("%d writes read back; duplicates %q", l.Verified, dups)
}

func TestCanonicalIDs(t *testing.T) {
	for _, tc := range []struct {
		v    cty.Value
		want string
		ok   bool
	}{
		{cty.StringVal("w-7"), "w-7", true},
		{cty.NumberIntVal(7), "7", true},
		{cty.MustParseNumberVal("7.0"), "7", true},
		{cty.MustParseNumberVal("12345678901234567890123"), "12345678901234567890123", true},
		{cty.True, "true", true},
		{cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1)}), `{"a":1}`, true},
		{cty.NullVal(cty.String), "", false},
		{cty.UnknownVal(cty.Number), "", false},
		{cty.NilVal, "", false},
	} {
		got, ok := canonicalID(tc.v)
		if got != tc.want || ok != tc.ok {
			t.Errorf("canonicalID(%#v) = %q, %v; want %q, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}
