target "demo" { embedded = "demobank" }

functional "login" {
  target = target.demo
  step "login" {
    http {
      method  = "POST"
      path    = "/api/login"
      jsn     = { user = "alice" }
    }
  }
}
