target "demo" {
  url      = "http://127.0.0.1:8080"
  embedded = "demobank"
}
