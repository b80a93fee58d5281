variable "base_url" { default = "http://127.0.0.1:8080" }

target "cloud" { url = var.base_url }

functional "a" {
  target  = target.nowhere
  timeout = "soon"
  step "one" {
    http { path = "/healthz" }
  }
}

functional "b" {
  target = target.cloud
  tags   = [1, 2]
  parallel = "yes"
  step "two" {
    http { path = "/healthz" }
  }
}
