package functional

import (
	"strings"
	"testing"
)

// The functions QA engineers reach for from Terraform's language work over
// a real response (go-httpbin's /json slideshow) at run time.
func TestTerraformStyleFunctionsOverAResponse(t *testing.T) {
	r := runHTTPBin(t, map[string]string{"suite.hcl": `
functional "functions" {
  target = target.httpbin
  case "slideshow" {
    step "json" {
      http { path = "/json" }
      assert {
        condition     = alltrue([for s in response.json.slideshow.slides : s.title != ""]) && anytrue([for s in response.json.slideshow.slides : s.type == "all"])
        error_message = "alltrue and anytrue over the slides"
      }
      assert {
        condition     = strcontains(response.json.slideshow.title, "Slide") && startswith(response.json.slideshow.title, "Sample") && endswith(response.json.slideshow.title, "Show")
        error_message = "strcontains, startswith and endswith"
      }
      assert {
        condition     = length(setsubtract(toset([for s in response.json.slideshow.slides : s.type]), ["all"])) == 0 && length(setintersection(toset(["all", "x"]), toset([for s in response.json.slideshow.slides : s.type]))) == 1
        error_message = "setsubtract and setintersection"
      }
      assert {
        condition     = sum([for s in response.json.slideshow.slides : length(lookup(s, "items", []))]) == 2 && one([for s in response.json.slideshow.slides : s.title if startswith(s.title, "Wake")]) == "Wake up to WonderWidgets!"
        error_message = "sum and one"
      }
      assert {
        condition     = coalesce(lookup(response.json.slideshow, "owner", ""), response.json.slideshow.author) == "Yours Truly" && timecmp("2026-12-02T10:00:00Z", "2026-12-01T10:00:00Z") == 1
        error_message = "coalesce and timecmp"
      }
    }
  }
}`})
	r.passed(t)
}

// validate finds a misspelt function also where the expression uses the
// response, which is only evaluated during the run.
func TestValidateFindsAnUnknownFunctionOverTheResponse(t *testing.T) {
	got := loadDiags(t, `
functional "functions" {
  target = target.httpbin
  case "c" {
    step "s" {
      http { path = "/json" }
      assert {
        condition     = all_true([for s in response.json.slideshow.slides : s.title != ""])
        error_message = "x"
      }
    }
  }
}`)
	if !strings.Contains(got, `suite.hcl:9,25-33: Call to unknown function; There is no function named "all_true". Did you mean "alltrue"?`) {
		t.Errorf("diagnostics:\n%s", got)
	}
}
