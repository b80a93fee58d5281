package fault

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAnIntentWithoutItsInjectionIsPendingAndAFailedOneIsNot(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "faults", "s.jsonl")
	os.MkdirAll(filepath.Dir(path), 0o755)
	lines := []string{
		// Crashed between the journal and the fault: pending, with the plan.
		`{"id":"s/a/1","suite":"s","fault":"a","engine":"local","action":"pod-failure","event":"intent","undo":[{"engine":"local","op":"sigcont","args":{"pgid":"1234"}}]}`,
		// Injected: the inject record's removals replace the plan.
		`{"id":"s/b/2","suite":"s","fault":"b","engine":"docker","action":"pod-failure","event":"intent","undo":[{"engine":"docker","op":"unpause","args":{"container":"x"}}]}`,
		`{"id":"s/b/2","suite":"s","fault":"b","engine":"docker","action":"pod-failure","event":"inject","undo":[{"engine":"docker","op":"unpause","args":{"container":"y"}}]}`,
		// The engine refused it: nothing is pending.
		`{"id":"s/c/3","suite":"s","fault":"c","engine":"local","action":"pod-failure","event":"intent","undo":[{"engine":"local","op":"sigcont","args":{"pgid":"99"}}]}`,
		`{"id":"s/c/3","suite":"s","fault":"c","engine":"local","action":"pod-failure","event":"inject-failed","error":"the process is not running"}`,
		// Injected and removed.
		`{"id":"s/d/4","suite":"s","fault":"d","engine":"local","action":"pod-failure","event":"intent","undo":[{"engine":"local","op":"sigcont","args":{"pgid":"7"}}]}`,
		`{"id":"s/d/4","suite":"s","fault":"d","engine":"local","action":"pod-failure","event":"inject","undo":[{"engine":"local","op":"sigcont","args":{"pgid":"7"}}]}`,
		`{"id":"s/d/4","suite":"s","fault":"d","engine":"local","action":"pod-failure","event":"remove"}`,
	}
	os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	pending, err := pendingInjections(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pending {
		got = append(got, p.Fault+":"+p.Undo[0].Args["pgid"]+p.Undo[0].Args["container"])
	}
	if strings.Join(got, ",") != "a:1234,b:y" {
		t.Fatalf("pending %v, want a (planned) and b (as injected)", got)
	}
}
