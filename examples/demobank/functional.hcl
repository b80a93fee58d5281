functional "health" {
  component = "mobile-channel"
  target    = target.demo
  tags      = ["smoke"]

  step "healthz" {
    http { path = "/healthz" }
    expect {
      status = 200
      json   = { status = "ok" }
    }
  }
}

functional "login-and-balance" {
  description = "A customer logs in and reads the balance of her account."
  component   = "mobile-channel"
  target      = target.demo
  tags        = ["smoke"]

  step "login" {
    http {
      method = "POST"
      path   = "/api/login"
      json   = { user = "alice", password = var.password }
    }
    expect {
      status        = 200
      headers_match = { "Content-Type" = "^application/json" }
      json_exists   = ["token"]
    }
    # The token is a credential: sensitive() keeps it out of every output
    # (a capture named token would be redacted anyway; this says so).
    capture { token = sensitive(response.json.token) }
  }

  step "balance" {
    http {
      path    = "/api/accounts/1"
      headers = { Authorization = "Bearer ${capture.token}" }
    }
    expect {
      status       = 200
      max_duration = "2s"
    }
    assert {
      condition     = response.json.currency == "CNY"
      error_message = "Balances must be served in CNY."
    }
    assert {
      condition     = response.json.balance >= 0
      error_message = "A balance is never negative."
    }
  }

  step "wrong-password" {
    http {
      method = "POST"
      path   = "/api/login"
      json   = { user = "alice", password = "not-the-password" }
    }
    expect { status = 401 }
  }
}

functional "transfers" {
  description = "Transfers are atomic, refuse overdrafts and honour idempotency keys."
  component   = "core-ledger"
  target      = target.demo

  setup {
    step "login" {
      use  = step_template.login
      with = { user = "bob", password = var.bob_password }
    }
  }

  case "a transfer is applied once per idempotency key" {
    step "before" {
      http {
        path    = "/api/accounts/2"
        headers = { Authorization = "Bearer ${capture.token}" }
      }
      expect { status = 200 }
      capture { before = response.json.balance }
    }
    step "transfer" {
      http {
        method  = "POST"
        path    = "/api/transfers"
        headers = { Authorization = "Bearer ${capture.token}", "Idempotency-Key" = "demo-${uuid()}" }
        json    = { from = 2, to = 3, amount = 12.5 }
      }
      expect { status = 201 }
      capture { transfer_id = response.json.id }
    }
    step "after" {
      http {
        path    = "/api/accounts/2"
        headers = { Authorization = "Bearer ${capture.token}" }
      }
      assert {
        condition     = response.json.balance == capture.before - 12.5
        error_message = "The transfer must be debited exactly once."
      }
    }
  }

  case "an overdraft is refused" {
    step "overdraft" {
      http {
        method  = "POST"
        path    = "/api/transfers"
        headers = { Authorization = "Bearer ${capture.token}" }
        json    = { from = 2, to = 3, amount = 1000000 }
      }
      expect {
        status        = 422
        body_contains = "insufficient funds"
      }
    }
  }
}

functional "ledger" {
  description = "A ledger record written is read back, eventually, with the same content."
  component   = "core-ledger"
  target      = target.demo
  tags        = ["smoke"]

  step "login" {
    use  = step_template.login
    with = { user = "alice", password = var.password }
  }

  step "write" {
    use  = step_template.ledger_write
    with = { ref = "acceptance-run", amount = 42 }
  }

  step "read-back" {
    http {
      path    = "/api/ledger/${capture.id}"
      headers = { Authorization = "Bearer ${capture.token}" }
    }
    eventually {
      within = "5s"
      every  = "200ms"
    }
    expect {
      status = 200
      json   = { "data.ref" = "acceptance-run" }
    }
  }
}

functional "every-customer-sees-own-account" {
  description = "Data-driven: one case per customer."
  component   = "mobile-channel"
  target      = target.demo
  parallel    = true

  case "own-account" {
    for_each = {
      alice = { password = var.password, account = 1 }
      bob   = { password = var.bob_password, account = 2 }
    }
    step "login" {
      use  = step_template.login
      with = { user = each.key, password = each.value.password }
    }
    step "account" {
      use  = step_template.account
      with = { account = each.value.account }
      assert {
        condition     = response.json.owner == each.key
        error_message = "Each customer reads her own account."
      }
    }
  }
}

functional "mobile-to-ledger" {
  description = "End to end across the hybrid link: a payment made through the mobile channel lands in the core ledger."
  components  = ["mobile-channel", "core-ledger"]
  target      = target.demo

  step "login" {
    use  = step_template.login
    with = { user = "carol", password = "caterpillar" }
  }

  step "pay" {
    http {
      method  = "POST"
      path    = "/api/transfers"
      headers = { Authorization = "Bearer ${capture.token}", "Idempotency-Key" = "e2e-${uuid()}" }
      json    = { from = 3, to = 1, amount = 1 }
    }
    expect { status = 201 }
    capture { transfer = response.json.id }
  }

  step "booked" {
    http {
      path    = "/api/transfers/${capture.transfer}"
      headers = { Authorization = "Bearer ${capture.token}" }
    }
    expect {
      status = 200
      json   = { from = 3, to = 1, amount = 1 }
    }
  }
}
