package fault

import (
	"context"
	"errors"

	"github.com/cloudtest/cloudtest/internal/target"
)

// dockerEngine injects faults into container targets. (Placeholder: the
// container branch replaces this file.)
type dockerEngine struct{}

func newDockerEngine() engine { return dockerEngine{} }

func (dockerEngine) inject(ctx context.Context, s *Spec, t *target.Instance) ([]Undo, error) {
	return nil, errors.New("the docker engine is not built yet")
}

func (dockerEngine) undo(ctx context.Context, u Undo) error {
	return errors.New("the docker engine is not built yet")
}
