# Full-link load on the demo bank: log in, read the balance, write to the
# ledger (the journal's fsync is in the path), at 40 journeys a second for
# 3 seconds. The thresholds are generous on purpose: a shared CI machine is
# noisy, and a regression gate belongs to a baseline comparison.
performance "login-balance-ledger" {
  components = ["mobile-channel", "core-ledger"]
  target     = target.demo

  load {
    rate     = 40
    ramp     = "1s"
    duration = "3s"
  }

  journey "pay" {
    step "login" {
      http {
        method = "POST"
        path   = "/api/login"
        json   = { user = "alice", password = var.password }
      }
      expect { status = 200 }
      capture { token = response.json.token }
    }
    step "balance" {
      http {
        path    = "/api/accounts/1"
        headers = { Authorization = "Bearer ${capture.token}" }
      }
      expect { status = 200 }
    }
    step "ledger" {
      http {
        method  = "POST"
        path    = "/api/ledger"
        headers = { Authorization = "Bearer ${capture.token}" }
        json    = { ref = "load", amount = 1 }
      }
      expect { status = 201 }
    }
  }

  thresholds {
    p99     = "2s"
    success = 0.99
  }
}
