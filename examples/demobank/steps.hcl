# Steps the suites repeat, written once (docs/steps.md, "Reusing steps"):
# a step uses one with `use = step_template.NAME` and gives its params in
# `with`; it may add its own assert and capture blocks.

step_template "login" {
  description = "A customer logs in; her token is kept as capture.token."
  param "user" {}
  param "password" { sensitive = true }

  http {
    method = "POST"
    path   = "/api/login"
    json   = { user = param.user, password = param.password }
  }
  expect { status = 200 }
  # The token is a credential: sensitive() keeps it out of every output.
  capture { token = sensitive(response.json.token) }
}

step_template "account" {
  description = "Reads an account with the token of the last login."
  param "account" { type = number }

  http {
    path    = "/api/accounts/${param.account}"
    headers = { Authorization = "Bearer ${capture.token}" }
  }
  expect { status = 200 }
}

step_template "ledger_write" {
  description = "Writes a ledger record; its id is kept as capture.id."
  param "ref" { type = string }
  param "amount" { type = number }

  http {
    method  = "POST"
    path    = "/api/ledger"
    headers = { Authorization = "Bearer ${capture.token}" }
    json    = { ref = param.ref, amount = param.amount }
  }
  expect { status = 201 }
  capture { id = response.json.id }
}
