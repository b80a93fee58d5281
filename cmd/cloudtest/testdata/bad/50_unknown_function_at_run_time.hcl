target "demo" { embedded = "demobank" }

functional "accounts" {
  target = target.demo
  step "list" {
    http { path = "/healthz" }
    assert {
      condition     = alltru([for a in response.json.accounts : a.currency == "CNY"])
      error_message = "every account is in CNY"
    }
    capture {
      first = lookup_pth(response.json, "accounts[0].id", "")
    }
  }
  step "check" {
    http { path = "/healthz/${urlencod(capture.first)}" }
    expect {
      status = 200
      json   = { "status" = uper("ok") }
    }
  }
}
