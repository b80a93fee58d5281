target "demo" { embedded = "demobank" }

functional "login" {
  target = target.demo
  step "balance" {
    http {
      path    = "/api/accounts/1"
      headers = { Authorization = "Bearer ${respnse.json.token}" }
    }
  }
}
