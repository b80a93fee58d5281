target "demo" { embedded = "demobank" }

performance "no-generators" {
  target = target.demo
  load {
    rate     = 10
    duration = "1s"
    workers  = 0
  }
  journey "j" {
    step "health" {
      http { path = "/healthz" }
    }
  }
}

performance "unknown-runner" {
  target = target.demo
  load {
    rate     = 10
    duration = "1s"
    workers  = 2
    runner   = "ssh"
  }
  journey "j" {
    step "health" {
      http { path = "/healthz" }
    }
  }
}

performance "runner-alone" {
  target = target.demo
  load {
    rate     = 10
    duration = "1s"
    runner   = "local"
  }
  journey "j" {
    step "health" {
      http { path = "/healthz" }
    }
  }
}

performance "pods-against-this-machine" {
  target = target.demo
  load {
    rate     = 10
    duration = "1s"
    workers  = 3
    runner   = "kubernetes"
  }
  journey "j" {
    step "health" {
      http { path = "/healthz" }
    }
  }
}

target "remote" { url = "https://bank.example.com" }

performance "pods-without-a-namespace" {
  target = target.remote
  load {
    rate     = 10
    duration = "1s"
    workers  = 3
    runner   = "kubernetes"
  }
  journey "j" {
    step "health" {
      http { path = "/healthz" }
    }
  }
}

performance "pods-with-bad-resources" {
  target = target.remote
  load {
    rate     = 10
    duration = "1s"
    workers  = 3
    runner   = "kubernetes"
    kubernetes {
      namespace = "Load_Test"
      requests  = { cpu = "half", gpu = "1" }
      limits    = { memory = "0" }
    }
  }
  journey "j" {
    step "health" {
      http { path = "/healthz" }
    }
  }
}

performance "pods-for-local-processes" {
  target = target.remote
  load {
    rate     = 10
    duration = "1s"
    workers  = 3
    kubernetes {
      image = "registry.bank.example/cloudtest:1"
    }
  }
  journey "j" {
    step "health" {
      http { path = "/healthz" }
    }
  }
}

performance "more-generators-than-users" {
  target = target.demo
  load {
    concurrency = 2
    duration    = "1s"
    workers     = 3
  }
  journey "j" {
    step "health" {
      http { path = "/healthz" }
    }
  }
}
