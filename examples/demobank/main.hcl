# The demo bank moved to the cloud: the suites every cloudtest user can run
# out of the box. `cloudtest run examples/demobank` starts the demo bank
# in-process on a free loopback port, runs every suite and writes the report.

project = "demobank-migration"

variable "password" {
  description = "Alice's password on the demo bank."
  default     = "wonderland"
  sensitive   = true
}

variable "bob_password" {
  default   = "builder"
  sensitive = true
}

deployment {
  mode = "hybrid"

  component "core-ledger" {
    mode   = "private"
    layers = ["iaas", "paas"]
    tier   = "critical"
  }

  component "mobile-channel" {
    mode   = "community"
    layers = ["iaas", "paas", "saas"]
    tier   = "general"
    vendor = "acme-cloud"
  }

  approver "Li Wei" { role = "Head of QA" }
  approver "Chen Jing" { role = "Information security officer" }
}

# Started and stopped by cloudtest, with its journal in the run directory.
target "demo" {
  embedded = "demobank"
}

# The system before the move, for the performance comparison: the same bank
# with a slower ledger.
target "legacy" {
  embedded = "demobank"
  demobank {
    slow_paths = { "/api/ledger" = "20ms", "/api/transfers" = "20ms" }
  }
}

locals {
  json_type = "application/json"
}
