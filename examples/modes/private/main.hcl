# A private cloud: the institution and the vendor test all four categories
# together; the vendor hands design documents, a test plan and, for security,
# a hardening guide, a security test report, the security products' manual
# and a best-practice guide. Deliberately wrong: the hardening guide expired
# on 2025-12-31, so the run is INCOMPLETE.
project = "private-cloud-example"

deployment {
  mode = "private"
  component "core-banking" {
    layers = ["iaas"]
    tier   = "critical"
  }
  approver "QA lead (sample)" { role = "Head of QA" }
}

target "demo" { embedded = "demobank" }

functional "core-banking-smoke" {
  component = "core-banking"
  target = target.demo
  step "health" {
    http { path = "/healthz" }
    expect { status = 200 }
  }
}

evidence "design" {
  component   = "core-banking"
  kind        = "design_doc"
  file        = "evidence/design.txt"
  sha256      = "05520c8001a1dbadb29547f4b3d4bb7d1e6a34323a97daeaf52a8bbbbdf983ca"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["functional", "performance", "reliability", "security"]
    layers     = ["iaas"]
  }
}
evidence "test-plan" {
  component   = "core-banking"
  kind        = "test_plan"
  file        = "evidence/test-plan.txt"
  sha256      = "33a47a0756ac4d95db76d1056d7511831521d485696320bf64abcb7fe90402c0"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["functional", "performance", "reliability", "security"]
    layers     = ["iaas"]
  }
}
evidence "hardening" {
  component   = "core-banking"
  kind        = "hardening_guide"
  file        = "evidence/hardening.txt"
  sha256      = "b17e5256730ed7dbcce3649c5db78db2cd0d60ac71becf343458557cd29aba2f"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2025-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas"]
  }
}
evidence "security-test" {
  component   = "core-banking"
  kind        = "test_report"
  file        = "evidence/security-test.txt"
  sha256      = "c115e1083ce0b42286c5328b1bb6bd92e58aefc68b8dd54beee01656165ad9d6"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas"]
  }
}
evidence "security-manual" {
  component   = "core-banking"
  kind        = "product_manual"
  file        = "evidence/security-manual.txt"
  sha256      = "49e12a9de07e6060c229a3441f2f3effc48bce1d58aabc6a5ec41d1b12786c80"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas"]
  }
}
evidence "best-practice" {
  component   = "core-banking"
  kind        = "best_practice_guide"
  file        = "evidence/best-practice.txt"
  sha256      = "dfa41ea3459161c1e004e7bae5b4c678883316e7af028ceaf16ff6f2cb8126d3"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas"]
  }
}
evidence "drill" {
  component   = "core-banking"
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

waiver "core-banking-performance-pending" {
  requirement = "core-banking/performance/test"
  reason      = "cloudtest has no performance suite yet"
  approver    = "QA lead (sample)"
  expires     = "2027-03-31"
}

waiver "core-banking-reliability-pending" {
  requirement = "core-banking/reliability/test"
  reason      = "cloudtest has no reliability suite yet"
  approver    = "QA lead (sample)"
  expires     = "2027-03-31"
}

waiver "core-banking-security-pending" {
  requirement = "core-banking/security/test"
  reason      = "cloudtest has no security suite yet"
  approver    = "QA lead (sample)"
  expires     = "2027-03-31"
}

