target "demo" { embedded = "demobank" }

functional "login" {
  target  = target.demo
  timeout = "213504d"
  step "health" {
    http {
      path    = "/healthz"
      timeout = "2562048h"
    }
    eventually {
      within = "-5s"
      every  = "-1d"
    }
  }
}
