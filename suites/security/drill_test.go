package security

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
)

func drillSuite(insecure bool, within string) string {
	return fmt.Sprintf(`
target "bank" {
  embedded = "demobank"
  demobank { insecure = %t }
}

security "drill" {
  target = target.bank
  scope { allow = ["127.0.0.1"] }

  drill "edge" {
    webhook { path = "/alerts" }
    setup {
      step "login" {
        http {
          method = "POST"
          path   = "/api/login"
          json   = { user = "alice", password = "wonderland" }
        }
        expect { status = 200 }
        capture { token = response.json.token }
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
        within = %[2]q
        log {
          target  = target.bank
          pattern = "credential_stuffing_suspected"
        }
      }
    }

    attack "scan" {
      mitre     = "T1595.003"
      technique = "scanning"
      paths     = ["/.git/HEAD", "/actuator/env"]
      expect_detection {
        within = %[2]q
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
        within = %[2]q
        status = [403]
      }
    }
  }
}
`, insecure, within)
}

func TestDrillDetectsByLogWebhookAndStatus(t *testing.T) {
	r := runSuite(t, drillSuite(false, "5s"), nil)
	if r.suite.Status != result.Passed {
		t.Fatalf("suite %s: %s", r.suite.Status, r.suite.Message)
	}
	if len(r.sum.Drills) != 1 {
		t.Fatalf("drills: %+v", r.sum.Drills)
	}
	d := r.sum.Drills[0]
	want := map[string][2]string{
		"credential-stuffing": {"detected", "log"},
		"scan":                {"detected", "webhook"},
		"sql-injection":       {"blocked", "status 403"},
	}
	for _, a := range d.Attacks {
		w := want[a.Name]
		if a.Outcome != w[0] || a.Channel != w[1] {
			t.Errorf("%s: %s via %q, want %s via %q (%s)", a.Name, a.Outcome, a.Channel, w[0], w[1], a.Message)
		}
		if a.TimeToDetectMS <= 0 || a.TimeToDetectMS > 5000 || a.DetectMS < a.StartMS {
			t.Errorf("%s: time to detect %.1f ms (start %.1f, detect %.1f)", a.Name, a.TimeToDetectMS, a.StartMS, a.DetectMS)
		}
		if a.MITRE == "" || a.Requests == 0 {
			t.Errorf("%s: %+v", a.Name, a)
		}
	}
	if a := d.Attacks[0]; !strings.Contains(a.Evidence, "credential_stuffing_suspected") {
		t.Errorf("the log line is the evidence: %q", a.Evidence)
	}
	if a := d.Attacks[1]; !strings.Contains(a.Evidence, `"event":"scan_detected"`) {
		t.Errorf("the webhook body is the evidence: %q", a.Evidence)
	}
	if d.Coverage != 1 {
		t.Errorf("coverage %v", d.Coverage)
	}
}

func TestDrillReportsMissedDetections(t *testing.T) {
	r := runSuite(t, drillSuite(true, "400ms"), nil)
	if r.suite.Status != result.Failed {
		t.Fatalf("suite %s, want failed: %s", r.suite.Status, r.suite.Message)
	}
	d := r.sum.Drills[0]
	for _, a := range d.Attacks {
		if a.Outcome != "missed" || a.TimeToDetectMS != 0 || !strings.HasPrefix(a.Message, "missed: ") {
			t.Errorf("%s: %+v", a.Name, a)
		}
	}
	if d.Coverage != 0 || !strings.Contains(r.suite.Message, "coverage 0% is below the required 100%") {
		t.Errorf("coverage %v: %s", d.Coverage, r.suite.Message)
	}
	var failed int
	for _, res := range r.results {
		if res.Level == result.LevelStep && res.Case == "drill edge" && res.Status == result.Failed {
			failed++
		}
	}
	if failed != 3 {
		t.Errorf("%d attack steps recorded as failed, want 3", failed)
	}
}
