# Answers: compressed bodies, redirects, the shape of a JSON document and
# the vendor's OpenAPI contract.
functional "answers" {
  target = target.httpbin

  case "compressed" {
    step "gzip" {
      http {
        path    = "/gzip"
        headers = { "Accept-Encoding" = "gzip" }
      }
      expect {
        headers = { "Content-Encoding" = "gzip" }
        json    = { gzipped = true }
      }
    }
    step "deflate" {
      http {
        path    = "/deflate"
        headers = { "Accept-Encoding" = "deflate" }
      }
      expect { json = { deflated = true } }
    }
  }

  case "contract" {
    step "uuid" {
      http { path = "/uuid" }
      expect { openapi = true }
    }
  }

  case "short-link" {
    step "redirects" {
      http {
        path          = "/redirect/3"
        max_redirects = 5
      }
      expect { status = 200 }
      assert {
        condition     = length(response.redirects) == 3 && endswith(response.url, "/get")
        error_message = "the link reaches /get in three hops, not ${length(response.redirects)}"
      }
    }
  }

  case "document-shape" {
    step "slideshow" {
      http { path = "/json" }
      expect {
        json_schema = file("schemas/slideshow.json")
        openapi     = true
      }
      assert {
        condition     = alltrue([for s in response.json.slideshow.slides : s.title != ""])
        error_message = "every slide has a title"
      }
    }
  }
}
