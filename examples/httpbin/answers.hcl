# Answers: compressed bodies, redirects, the shape of a JSON document and
# the vendor's OpenAPI contract.
# A compressed answer: the body is decoded for response.json, while the
# header still says how it came. Written once, used for each encoding.
step_template "compressed" {
  param "encoding" { type = string }
  http {
    path    = "/${param.encoding}"
    headers = { "Accept-Encoding" = param.encoding }
  }
  expect { headers = { "Content-Encoding" = param.encoding } }
}

functional "answers" {
  target = target.httpbin

  case "compressed" {
    step "gzip" {
      use  = step_template.compressed
      with = { encoding = "gzip" }
      assert {
        condition     = response.json.gzipped
        error_message = "the gzip answer is decoded"
      }
    }
    step "deflate" {
      use  = step_template.compressed
      with = { encoding = "deflate" }
      assert {
        condition     = response.json.deflated
        error_message = "the deflate answer is decoded"
      }
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
