target "demo" { embedded = "demobank" }

functional "compare" {
  target = target.demo
  step "old" {
    http { path = "/healthz" }
    capture { old = response.status }
  }
  step "compare" {
    assert {
      condition     = response.status == capture.old
      error_message = "the status moved from ${capture.old} to ${capture.new}"
    }
  }
}
