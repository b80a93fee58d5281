target "demo" { embedded = "demobank" }

functional "login" {
  target = target.demo
  tags   = "smoke"
  step "health" {
    http { path = "/healthz" }
  }
}
