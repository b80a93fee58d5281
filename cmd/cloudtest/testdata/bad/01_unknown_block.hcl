target "demo" { embedded = "demobank" }

functionl "login" {
  target = target.demo
  step "health" {
    http { path = "/healthz" }
  }
}
