package reliability

import "testing"

func TestJoinMsgLeavesNoDanglingSeparator(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ a, b, want string }{
		{"some faults could not be removed", "", "some faults could not be removed"},
		{"", "steady state failed", "steady state failed"},
		{"some faults could not be removed", "steady state failed", "some faults could not be removed; steady state failed"},
		{"", "", ""},
	} {
		if got := joinMsg(tt.a, tt.b); got != tt.want {
			t.Errorf("joinMsg(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}
