target "demo" { embedded = "demobank" }

functional "login" {
  target = target.demo
  step "nothing" {
    expect { status = 200 }
  }
}
