# step_template mistakes: each message names the use and the definition.
target "bank" { url = "http://127.0.0.1:1" }

step_template "login" {
  param "user" {}
  param "password" { sensitive = true }
  param "within" { type = string }
  http {
    method = "POST"
    path   = "/api/login/${param.user}"
    json   = { user = param.user, password = param.password }
  }
  eventually { within = param.within }
}

functional "logins" {
  target = target.bank
  case "fixed" {
    step "unknown-template" {
      use = step_template.logn
    }
    step "unknown-param" {
      use  = step_template.login
      with = { user = "alice", pasword = "x", within = "1s" }
    }
    step "type-inside" {
      use  = step_template.login
      with = { user = { name = "alice" }, password = "x", within = 3 }
    }
  }
  case "each" {
    for_each = { alice = "3s" }
    step "run-time-too-early" {
      use  = step_template.login
      with = { user = each.key, password = "x", within = each.value }
    }
  }
}
