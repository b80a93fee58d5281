package evidence

import (
	"context"
	"fmt"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/deploy"
)

// Prepare verifies the evidence of cfg at now, keeps the verified files in
// runDir/evidence/ and writes the acceptance inputs (deploy.InputsFile) that
// the report evaluates. It does nothing for a configuration without a
// deployment block. Reading the files stops when ctx is done.
func Prepare(ctx context.Context, cfg *config.Config, runDir string, now time.Time, expiryWarning time.Duration) error {
	if cfg.Deployment == nil {
		return nil
	}
	reqs, waivers, err := deploy.Requirements(cfg)
	if err != nil {
		return err
	}
	items := All(cfg)
	verified := VerifyContext(ctx, cfg, items, now, expiryWarning)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("verifying the evidence: %w", err)
	}
	if err := storeContext(ctx, runDir, items, verified); err != nil {
		return err
	}
	return deploy.NewInputs(cfg, reqs, waivers, verified).Write(runDir)
}
