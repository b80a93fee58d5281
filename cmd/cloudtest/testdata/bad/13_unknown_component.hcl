deployment {
  mode = "private"
  component "core-ledger" {
    layers = ["iaas"]
    tier   = "critical"
  }
}

target "demo" { embedded = "demobank" }

functional "ledger" {
  component = "core-ledgr"
  target    = target.demo
  step "health" {
    http { path = "/healthz" }
  }
}
