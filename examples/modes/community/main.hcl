# A financial community cloud: the tenant tests its own business
# (functional, performance, business security scans); the vendor hands
# certification or test reports for every layer used, and security and
# penetration test reports. Deliberately wrong: no penetration test report
# was handed over, so the run is INCOMPLETE.
project = "community-cloud-example"

deployment {
  mode = "community"
  component "mobile-channel" {
    layers = ["saas"]
    vendor = "acme-cloud"
  }
}

target "demo" { embedded = "demobank" }

functional "mobile-smoke" {
  component = "mobile-channel"
  target = target.demo
  step "health" {
    http { path = "/healthz" }
    expect { status = 200 }
  }
}

evidence "certification" {
  component   = "mobile-channel"
  kind        = "certification"
  file        = "evidence/certification.txt"
  sha256      = "74304d95bc6f840bf74bdea8b6770ee3a7774177b1aed39d22dfe24823e856a7"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["functional", "performance", "reliability", "security"]
    layers     = ["saas"]
  }
}
evidence "security-test" {
  component   = "mobile-channel"
  kind        = "test_report"
  file        = "evidence/security-test.txt"
  sha256      = "eab0ef9e141a76481de5755bd14fa38c73ee589c5a6b94e5ee0064834714dc39"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["saas"]
  }
}
evidence "drill" {
  component   = "mobile-channel"
  kind        = "drill_report"
  file        = "evidence/drill.txt"
  sha256      = "ef2cb3af8e617ee4da416a648fe5c5f85cfa49bc1e832c26d10979091e8ad66e"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
  }
}

waiver "mobile-channel-performance-pending" {
  requirement = "mobile-channel/performance/test"
  reason      = "cloudtest has no performance suite yet"
  approver    = "QA lead (sample)"
  expires     = "2027-03-31"
}

waiver "mobile-channel-security-pending" {
  requirement = "mobile-channel/security/test"
  reason      = "cloudtest has no security suite yet"
  approver    = "QA lead (sample)"
  expires     = "2027-03-31"
}

