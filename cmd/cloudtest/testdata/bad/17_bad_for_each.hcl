target "demo" { embedded = "demobank" }

functional "accounts" {
  target = target.demo
  case "balance" {
    for_each = "alice"
    step "get" {
      http { path = "/api/accounts/${each.value}" }
    }
  }
}
