package fault

import (
	"context"
	"errors"
	"io"

	"github.com/cloudtest/cloudtest/internal/target"
)

// Lab holds the engines and proxies of one experiment and writes its
// journal. (Contract for the reliability suite; the fault branch fills it.)
type Lab struct{}

// Open prepares the faults of one experiment: it starts the proxies that
// local network faults need (so that steady state is measured through the
// same path) and opens the journal at journalPath (appended to).
func Open(ctx context.Context, suite string, specs []*Spec, targets map[string]*target.Instance, journalPath string) (*Lab, error) {
	return nil, errors.New("fault.Open: not built yet")
}

// URL is the base URL through which the experiment reaches the named
// target: a proxy's when a local network fault acts on it, the target's own
// otherwise.
func (l *Lab) URL(targetName string) string { return "" }

// Inject applies s and journals it with its undo actions.
func (l *Lab) Inject(ctx context.Context, s *Spec) error { return errors.New("not built yet") }

// Remove undoes s (nothing when it is not active) and journals the removal.
func (l *Lab) Remove(ctx context.Context, s *Spec) error { return errors.New("not built yet") }

// Close removes every fault still active, stops the proxies and closes the
// journal. It is safe to call more than once.
func (l *Lab) Close(ctx context.Context) error { return nil }

// Carrier is a suite that holds fault specs (`cloudtest plan --emit-chaos`).
type Carrier interface {
	FaultSpecs() []*Spec
}

// Recover replays the removals of every fault that the journals under dir
// record as injected and not removed, writing what it did to w; it returns
// how many removals it carried out.
func Recover(ctx context.Context, dir string, w io.Writer) (int, error) {
	return 0, errors.New("fault.Recover: not built yet")
}
