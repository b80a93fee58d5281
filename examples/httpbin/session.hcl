# Cookies: setup signs in once; every case starts with its cookies, keeps
# what it is given, and never sees another case's.
functional "session" {
  target = target.httpbin

  setup {
    step "sign-in" {
      http { path = "/cookies/set?session=branch-042-7f3a9c" }   # Set-Cookie on a redirect
      expect { status = 200 }
      assert {
        condition     = response.cookies.session == "branch-042-7f3a9c"
        error_message = "signing in hands out a session cookie"
      }
    }
  }

  case "session-is-sent" {
    step "whoami" {
      http {
        path    = "/cookies"
        cookies = { locale = "zh-CN" }
      }
      expect { json = { "cookies.session" = "branch-042-7f3a9c", "cookies.locale" = "zh-CN" } }
    }
  }

  case "two-cookies-at-once" {
    step "preferences" {
      http { path = "/response-headers?Set-Cookie=theme%3Ddark&Set-Cookie=lang%3Dzh" }
      expect { headers_match = { "Set-Cookie" = "^theme=dark, lang=zh$" } }
      assert {
        condition     = response.header_values["Set-Cookie"] == ["theme=dark", "lang=zh"] && response.cookies == { theme = "dark", lang = "zh" }
        error_message = "both cookies are read, as a list and by name"
      }
    }
  }

  case "basic-authentication" {
    step "operations-console" {
      http {
        path       = "/basic-auth/ops/${var.ops_password}"
        basic_auth = { user = "ops", password = var.ops_password }
      }
      expect { json = { authenticated = true, user = "ops" } }
    }
  }
}
