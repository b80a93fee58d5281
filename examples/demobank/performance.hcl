# Full-link load on the demo bank: log in as a customer from the feed, read
# the balance, write to the ledger (the journal's fsync is in the path), at
# up to 40 journeys a second for 3 seconds; then the same load against the
# "legacy" deployment, a second demo bank whose transfers and ledger answer
# 20 ms slower, for the before/after comparison. The thresholds are generous
# on purpose: a shared CI machine is noisy; a regression gate belongs to
# `cloudtest run --baseline`.
performance "login-balance-ledger" {
  components = ["mobile-channel", "core-ledger"]
  target     = target.demo
  compare    = target.legacy

  feed {
    file = "accounts.csv"
    mode = "random"
  }

  load {
    rate     = 40
    ramp     = "1s"
    duration = "3s"
  }

  journey "pay" {
    step "login" {
      use  = step_template.login
      with = { user = feed.user, password = feed.password }
    }
    step "balance" {
      use  = step_template.account
      with = { account = feed.account }
    }
    step "ledger" {
      use  = step_template.ledger_write
      with = { ref = "load", amount = 1 }
    }
  }

  thresholds {
    p99     = "2s"
    success = 0.99
  }
}
