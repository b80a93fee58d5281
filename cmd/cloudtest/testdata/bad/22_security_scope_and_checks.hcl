target "demo" { embedded = "demobank" }

# A security suite must declare where its traffic may go, and each check
# must have what it needs.
security "edge" {
  target = target.demo
  checks = ["headers", "injection", "sqlmap"]
  check "rate_limit" {
    attempts = 3
    within   = 5
  }
  waiver "csp" {
    reason   = "legacy pages"
    approver = "Chen Jing"
    expires  = "31/12/2027"
  }
}
