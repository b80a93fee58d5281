# Request bodies: a query map, a form, a multipart upload with a file.
functional "bodies" {
  target = target.httpbin

  case "search" {
    step "query" {
      http {
        path  = "/get"
        query = { q = "R&D +1", page = "2" }
      }
      assert {
        condition     = response.json.args == { q = ["R&D +1"], page = ["2"] }
        error_message = "the query arrives as written"
      }
    }
  }

  case "transfer-form" {
    step "form" {
      http {
        method = "POST"
        path   = "/post"
        form   = { from = "CN-1", to = "CN-2", amount = "12.50" }
      }
      assert {
        condition     = response.json.form == { from = ["CN-1"], to = ["CN-2"], amount = ["12.50"] }
        error_message = "the form arrives as written"
      }
    }
  }

  case "statement-upload" {
    step "upload" {
      http {
        method = "POST"
        path   = "/post"
        multipart {
          field "period" { value = "2026-11" }
          file "statement" {
            path         = "uploads/statement.csv"
            content_type = "text/csv"
          }
        }
      }
      assert {
        condition     = response.json.form.period == ["2026-11"] && startswith(response.json.files.statement[0], "id,amount")
        error_message = "the field and the file arrive"
      }
    }
  }
}
