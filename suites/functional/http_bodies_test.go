package functional

import (
	"strings"
	"testing"
)

// query and form maps are encoded (a value cannot add a parameter); a
// multipart block sends fields and files (from a file next to the suite,
// or given inline) that go-httpbin reads back.
func TestQueryFormAndMultipartReachTheServerAsWritten(t *testing.T) {
	r := runHTTPBin(t, map[string]string{
		"uploads/statement.xml": "<statement id=\"1\"/>",
		"suite.hcl": `
functional "bodies" {
  target = target.httpbin
  case "encoded" {
    step "query" {
      http {
        path  = "/get?fixed=1"
        query = { q = "R&D +1", page = "2" }
      }
      assert {
        condition     = response.json.args == { fixed = ["1"], q = ["R&D +1"], page = ["2"] }
        error_message = "the query map is encoded and added to the path's"
      }
    }
    step "form" {
      http {
        method = "POST"
        path   = "/post"
        form   = { name = "Zhang San", note = "a=1&b=2" }
      }
      assert {
        condition     = response.json.form == { name = ["Zhang San"], note = ["a=1&b=2"] } && startswith(response.json.headers["Content-Type"][0], "application/x-www-form-urlencoded")
        error_message = "the form map is sent url-encoded"
      }
    }
    step "multipart" {
      http {
        method = "POST"
        path   = "/post"
        multipart {
          field "account" { value = "CN-1" }
          file "statement" { path = "uploads/statement.xml" }
          file "note" {
            content      = "{\"ok\":true}"
            filename     = "note.json"
            content_type = "application/json"
          }
        }
      }
      assert {
        condition     = response.json.form == { account = ["CN-1"] }
        error_message = "the field arrives as a form value"
      }
      assert {
        condition     = response.json.files == { statement = ["<statement id=\"1\"/>"], note = ["{\"ok\":true}"] }
        error_message = "both files arrive whole"
      }
      assert {
        condition     = can(regex("filename=\"statement.xml\"\r\nContent-Type: [a-z]+/xml", response.json.data)) && strcontains(response.json.data, "filename=\"note.json\"\r\nContent-Type: application/json")
        error_message = "each file has its name and content type"
      }
    }
  }
}`})
	r.passed(t)
}

func TestMultipartMistakesAreDiagnostics(t *testing.T) {
	got := loadDiags(t, `
functional "bodies" {
  target = target.httpbin
  case "c" {
    step "s" {
      http {
        method = "POST"
        json   = {}
        multipart {
          file "a" { path = "missing.pdf" }
          file "b" {}
        }
      }
    }
  }
}`)
	for _, want := range []string{
		`suite.hcl:11,29-42: File not found; multipart file "a": missing.pdf cannot be read: no such file or directory.`,
		`suite.hcl:12,11-19: A file needs path or content; multipart file "b" takes exactly one of path`,
		`Several request bodies; An http block takes at most one of json, body, form and a multipart block.`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, got)
		}
	}
}
