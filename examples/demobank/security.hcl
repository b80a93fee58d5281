# Security after the move (the guide: business security tests aimed at the
# new attack surface, a baseline checked regularly, and a real-world drill).
#
# The same checks run twice: against the demo bank as it is deployed (it
# must be clean) and against the demo bank started with its weaknesses
# planted (`cloudtest demo --insecure`), where every planted weakness must
# be found. That second suite is a negative control: it proves the checks
# still see what they are meant to see, so a clean result above means
# something. Traffic never leaves the declared scope.

# The bank with its planted weaknesses, for the negative control.
target "demo-insecure" {
  embedded = "demobank"
  demobank { insecure = true }
}

security "mobile-edge" {
  description = "The mobile channel's API after the move: headers, authentication, object-level authorization, CORS, exposure, injection, login throttling, default credentials."
  component   = "mobile-channel"
  target      = target.demo
  tags        = ["baseline"]

  scope {
    allow        = ["127.0.0.1"]
    max_requests = 500
    rate         = 200
  }

  identity "alice" {
    step "login" {
      use  = step_template.login
      with = { user = "alice", password = var.password }
    }
    headers = { Authorization = "Bearer ${capture.token}" }
    owns    = ["/api/accounts/1"]
  }

  identity "bob" {
    step "login" {
      use  = step_template.login
      with = { user = "bob", password = var.bob_password }
    }
    headers = { Authorization = "Bearer ${capture.token}" }
    owns    = ["/api/accounts/2"]
  }

  check "headers" {
    paths      = ["/healthz", "/api/branches"]
    auth_paths = ["/api/accounts", "/api/accounts/1"]
  }

  check "auth" {
    paths       = ["/api/accounts", "/api/accounts/{id}", "/api/ledger", "/admin/users"]
    path_params = { id = "1" }
    allow       = ["/healthz", "/metrics", "/api/branches"]
  }

  check "cors" {
    paths = ["/api/accounts"]
  }

  check "exposure" {
    # The bank's own port is swept and allowed (the default); debug and
    # admin paths are asked for. /metrics is scraped by Prometheus on
    # purpose.
    allow_paths = ["/metrics"]
  }

  check "injection" {
    parameter "city" {
      path  = "/api/branches"
      value = "shanghai"
    }
  }

  check "rate_limit" {
    attempts = 8
    within   = 6
    step "guess" {
      http {
        method = "POST"
        path   = "/api/login"
        json   = { user = "mallory", password = "guess-${each.value}" }
      }
    }
  }

  check "default_credentials" {
    step "login" {
      http {
        method = "POST"
        path   = "/api/login"
        json   = { user = each.value.user, password = each.value.password }
      }
    }
  }
}

security "mobile-edge-planted" {
  description = "Negative control: the same checks against the demo bank with its weaknesses planted. Each planted weakness must be found; a finding not listed fails the suite."
  component   = "mobile-channel"
  target      = target.demo-insecure
  tags        = ["negative-control"]

  scope {
    allow        = ["127.0.0.1"]
    max_requests = 500
  }

  # The planted weaknesses. The suite passes when exactly these are found
  # (or waived): one missing means a check has gone blind.
  expect_findings = [
    "headers/csp-missing", "headers/nosniff-missing", "headers/framing-allowed",
    "headers/referrer-policy-missing", "headers/cache-control-missing",
    "auth/no-credentials", "auth/bola",
    "cors/reflected-origin-with-credentials",
    "exposure/admin-exposed",
    "injection/sql-error", "injection/reflected-xss",
    "rate_limit/not-throttled",
    "default_credentials/accepted",
  ]

  # A finding accepted by the security officer, until a date.
  waiver "headers/version-disclosure" {
    reason   = "the demo bank's Server banner is planted too; accepted while the negative control is reviewed"
    approver = "Chen Jing"
    expires  = "2027-03-31"
  }

  identity "alice" {
    step "login" {
      use  = step_template.login
      with = { user = "alice", password = var.password }
    }
    headers = { Authorization = "Bearer ${capture.token}" }
    owns    = ["/api/accounts/1"]
  }

  identity "bob" {
    step "login" {
      use  = step_template.login
      with = { user = "bob", password = var.bob_password }
    }
    headers = { Authorization = "Bearer ${capture.token}" }
    owns    = ["/api/accounts/2"]
  }

  check "headers" {
    paths      = ["/healthz", "/api/branches"]
    auth_paths = ["/api/accounts", "/api/accounts/1"]
  }

  check "auth" {
    paths       = ["/api/accounts", "/api/accounts/{id}", "/api/ledger", "/admin/users"]
    path_params = { id = "1" }
    allow       = ["/healthz", "/metrics", "/api/branches"]
  }

  check "cors" {
    paths = ["/api/accounts"]
  }

  check "exposure" {
    allow_paths = ["/metrics"]
  }

  check "injection" {
    parameter "city" {
      path  = "/api/branches"
      value = "shanghai"
    }
  }

  check "rate_limit" {
    attempts = 8
    within   = 6
    step "guess" {
      http {
        method = "POST"
        path   = "/api/login"
        json   = { user = "mallory", password = "guess-${each.value}" }
      }
    }
  }

  check "default_credentials" {
    step "login" {
      http {
        method = "POST"
        path   = "/api/login"
        json   = { user = each.value.user, password = each.value.password }
      }
    }
  }
}

security "ledger-attack-defense" {
  description = "An attack-defense drill against the ledger's edge: each attack must be blocked or detected (the bank's log, its alert webhook) within its time limit."
  component   = "core-ledger"
  target      = target.demo

  scope {
    allow        = ["127.0.0.1"]
    max_requests = 200
  }

  check "auth" {
    paths = ["/api/ledger", "/api/ledger/{id}", "/api/transfers/{id}"]
  }

  drill "edge-2026" {
    # cloudtest listens on a free loopback port; the setup registers that
    # address as the bank's alert webhook.
    webhook { path = "/alerts" }

    setup {
      step "login" {
        use  = step_template.login
        with = { user = "alice", password = var.password }
      }
      step "register-webhook" {
        http {
          method  = "PUT"
          path    = "/api/alerts/webhook"
          headers = { Authorization = "Bearer ${capture.token}" }
          json    = { url = webhook.url }
        }
        expect { status = 200 }
      }
    }

    attack "credential-stuffing" {
      mitre     = "T1110.004"
      technique = "credential_stuffing"
      attempts  = 6
      step "login" {
        http {
          method = "POST"
          path   = "/api/login"
          json   = { user = each.value.user, password = each.value.password }
        }
      }
      expect_detection {
        within = "5s"
        log {
          target  = target.demo
          pattern = "credential_stuffing_suspected"
        }
      }
    }

    attack "scan-for-debug-endpoints" {
      mitre     = "T1595.003"
      technique = "scanning"
      paths     = ["/.git/HEAD", "/actuator/env", "/debug/pprof/"]
      expect_detection {
        within = "5s"
        webhook { match = "scan_detected" }
      }
    }

    attack "sql-injection" {
      mitre     = "T1190"
      technique = "injection"
      attempts  = 3
      step "search" {
        http {
          path  = "/api/branches"
          query = { city = each.value }
        }
      }
      expect_detection {
        within = "5s"
        status = [403]
        webhook { match = "injection_blocked" }
      }
    }
  }
}
