# Data: a status-code matrix read from a CSV file (one case per row, shown
# as a table of cases in declared order, run in parallel), the functions of
# Terraform's language over an answer, and a step that only compares what
# two earlier steps captured.

functional "status-codes" {
  target   = target.httpbin
  parallel = true

  case "status" {
    for_each = { for row in csvdecode(file("codes.csv")) : row.code => row }
    step "code" {
      http { path = "/status/${each.value.code}" }
      expect { status = tonumber(each.value.code) }
    }
  }
}

functional "functions" {
  target = target.httpbin

  case "ledger-echo" {
    step "echo" {
      http {
        method = "POST"
        path   = "/anything"
        json = {
          accounts = [{ id = "acc-1", balance = 10 }, { id = "acc-2", balance = 5 }]
          owner    = "alice"
          opened   = "2026-01-01T08:00:00+08:00"
          closed   = null
        }
      }
      expect { status = 200 }
      assert {
        condition = alltrue([
          sum([for a in response.json.json.accounts : a.balance]) == 15,
          anytrue([for a in response.json.json.accounts : a.balance < 6]),
          strcontains(response.json.url, "/anything"),
          startswith(response.json.json.accounts[0].id, "acc-"),
          length(setsubtract(["acc-1", "acc-2", "acc-3"], [for a in response.json.json.accounts : a.id])) == 1,
          length(setintersection(["acc-2", "acc-9"], [for a in response.json.json.accounts : a.id])) == 1,
          one([for a in response.json.json.accounts : a.id if a.balance == 5]) == "acc-2",
          coalesce(response.json.json.closed, "open") == "open",
          timecmp(response.json.json.opened, "2026-01-01T00:00:00Z") == 0,
          lookup_path(response.json, "json.accounts[1].balance", 0) == 5,
          lookup_path(response.json, "json.overdraft.limit", "none") == "none",
        ])
        error_message = "the echoed ledger of ${response.json.json.owner} does not add up"
      }
    }
  }
}

functional "two-systems" {
  description = "The balance the old and the new system give is the same."
  target      = target.httpbin

  step "legacy" {
    http {
      path  = "/get"
      query = { account = "acc-1", balance = "12.50" }
    }
    capture { legacy = response.json.args.balance[0] }
  }
  step "cloud" {
    http {
      path  = "/anything"
      query = { account = "acc-1", balance = "12.50" }
    }
    capture { cloud = response.json.args.balance[0] }
  }
  step "same-balance" {
    assert {
      condition     = capture.legacy == capture.cloud
      error_message = "the balance moved from ${capture.legacy} to ${capture.cloud}"
    }
  }
}
