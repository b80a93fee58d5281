deployment {
  mode = "public"
  component "ledger" {
    layers = ["iaas", "paas"]
    tier   = "critical"
  }
}
