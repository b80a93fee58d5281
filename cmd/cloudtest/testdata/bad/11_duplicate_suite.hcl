target "demo" { embedded = "demobank" }

functional "smoke" {
  target = target.demo
  step "health" {
    http { path = "/healthz" }
  }
}

functional "smoke" {
  target = target.demo
  step "health" {
    http { path = "/healthz" }
  }
}
