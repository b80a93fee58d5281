target "demo" { embedded = "demobank" }

performance "impossible" {
  target = target.demo
  load {
    rate         = 1e400
    duration     = "10s"
    max_requests = -3
    max_workers  = -1
  }
  journey "j" {
    step "health" {
      http { path = "/healthz" }
    }
  }
  thresholds {
    p99     = "0s"
    min_tps = -5
  }
}

performance "stages" {
  target = target.demo
  load {
    stage {
      duration = "0s"
      rate     = 10
    }
    concurrency = -2
  }
  journey "j" {
    step "health" {
      http { path = "/healthz" }
    }
  }
}
