target "demo" { embedded = "demobank" }

functional "login" {
  target  = target.demo
  timeout = "3 minutes"
  step "health" {
    http { path = "/healthz" }
  }
}
