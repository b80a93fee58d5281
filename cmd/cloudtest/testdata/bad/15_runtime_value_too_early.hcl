target "demo" { embedded = "demobank" }

functional "login" {
  target    = target.demo
  component = capture.component
  step "health" {
    http { path = "/healthz" }
  }
}
