target "demo" { embedded = "demobank" }

performance "load" {
  target = target.demo
  load {
    rate     = 5
    duration = "1s"
  }
  journey "j" {
    step "health" {
      http { path = "/healthz" }
      capture { status = response.status }
    }
    step "compare" {
      assert {
        condition     = capture.status == 200
        error_message = "status ${capture.status}"
      }
    }
  }
}
