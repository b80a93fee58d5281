target "demo" { embedded = "demobank" }

security "edge" {
  target = target.demo
  scope {
    allow        = ["127.0.0.1"]
    max_requests = -5
    rate         = 1e400
  }
  check "rate_limit" {
    attempts     = -10
    block_status = [-429]
    step "login" {
      http { path = "/api/login" }
    }
  }
  check "exposure" { allow_ports = [-80] }
  check "headers" { paths = ["/healthz"] }
  check "tls" {
    url         = "https://127.0.0.1:8443"
    expiry_days = -30
  }
}
