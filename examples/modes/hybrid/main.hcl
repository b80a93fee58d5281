# A hybrid: each component follows the rules of its own mode, and one
# overall plan tests the links between the private and the community parts
# end to end (the suite "ledger-to-mobile" names one of each). Deliberately
# wrong: the drill report's file was never copied next to the suites, so it
# is missing and the run is INCOMPLETE.
project = "hybrid-cloud-example"

deployment {
  mode = "hybrid"
  component "ledger" {
    mode   = "private"
    layers = ["iaas"]
    tier   = "critical"
  }
  component "mobile" {
    mode   = "community"
    layers = ["saas"]
    vendor = "acme-cloud"
  }
}

target "demo" { embedded = "demobank" }

functional "ledger-smoke" {
  component = "ledger"
  target = target.demo
  step "health" {
    http { path = "/healthz" }
    expect { status = 200 }
  }
}

functional "mobile-smoke" {
  component = "mobile"
  target = target.demo
  step "health" {
    http { path = "/healthz" }
    expect { status = 200 }
  }
}

functional "ledger-to-mobile" {
  components = ["ledger", "mobile"]
  target = target.demo
  step "health" {
    http { path = "/healthz" }
    expect { status = 200 }
  }
}

evidence "ledger-design" {
  component   = "ledger"
  kind        = "design_doc"
  file        = "evidence/ledger-design.txt"
  sha256      = "e1f9a0b7cb4f320cc9eb902aa558487c80a64340a80f3a828eb088de34ea5ca7"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["functional", "performance", "reliability", "security"]
    layers     = ["iaas"]
  }
}
evidence "ledger-test-plan" {
  component   = "ledger"
  kind        = "test_plan"
  file        = "evidence/ledger-test-plan.txt"
  sha256      = "620e7352d2fdefbc075feddeb6518b87c2a84b9f4666f7180640828619726523"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["functional", "performance", "reliability", "security"]
    layers     = ["iaas"]
  }
}
evidence "ledger-hardening-guide" {
  component   = "ledger"
  kind        = "hardening_guide"
  file        = "evidence/ledger-hardening_guide.txt"
  sha256      = "d83ee499350306f292df572f98aabdf30cff6603214970c06500177a7afb7719"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas"]
  }
}
evidence "ledger-test-report" {
  component   = "ledger"
  kind        = "test_report"
  file        = "evidence/ledger-test_report.txt"
  sha256      = "b27b3f4832237b8a2bbf3bce4df6a8f3e858991a411d1413e8464f990722d0a5"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas"]
  }
}
evidence "ledger-product-manual" {
  component   = "ledger"
  kind        = "product_manual"
  file        = "evidence/ledger-product_manual.txt"
  sha256      = "5aa8282e447d6e7035f753197e447e5865e53f1bbb4614ac654f9354b4c56fc3"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas"]
  }
}
evidence "ledger-best-practice-guide" {
  component   = "ledger"
  kind        = "best_practice_guide"
  file        = "evidence/ledger-best_practice_guide.txt"
  sha256      = "755d90aa53ae9b1f3b3bee2c5e30f075097b39c8c09bdb6237d0e41086cf56c5"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas"]
  }
}
evidence "mobile-certification" {
  component   = "mobile"
  kind        = "certification"
  file        = "evidence/mobile-certification.txt"
  sha256      = "c0600650c333410ee7f0848344e73555ddef40701a9f8be155265e898257a11f"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["functional", "performance", "reliability", "security"]
    layers     = ["saas"]
  }
}
evidence "mobile-security-test" {
  component   = "mobile"
  kind        = "test_report"
  file        = "evidence/mobile-security-test.txt"
  sha256      = "c115e1083ce0b42286c5328b1bb6bd92e58aefc68b8dd54beee01656165ad9d6"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["saas"]
  }
}
evidence "mobile-pentest" {
  component   = "mobile"
  kind        = "pentest_report"
  file        = "evidence/mobile-pentest.txt"
  sha256      = "3052e67d8479a17c463f66ed667c28ce423c35f649ff48a13a07a75e41594537"
  issuer      = "Acme Cloud (sample)"
  issued      = "2026-09-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["saas"]
  }
}
evidence "drill" {
  components  = ["ledger", "mobile"]
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

waiver "ledger-performance-pending" {
  requirement = "ledger/performance/test"
  reason      = "cloudtest has no performance suite yet"
  approver    = "QA lead (sample)"
  expires     = "2027-03-31"
}

waiver "ledger-reliability-pending" {
  requirement = "ledger/reliability/test"
  reason      = "cloudtest has no reliability suite yet"
  approver    = "QA lead (sample)"
  expires     = "2027-03-31"
}

waiver "ledger-security-pending" {
  requirement = "ledger/security/test"
  reason      = "cloudtest has no security suite yet"
  approver    = "QA lead (sample)"
  expires     = "2027-03-31"
}

waiver "mobile-performance-pending" {
  requirement = "mobile/performance/test"
  reason      = "cloudtest has no performance suite yet"
  approver    = "QA lead (sample)"
  expires     = "2027-03-31"
}

waiver "mobile-security-pending" {
  requirement = "mobile/security/test"
  reason      = "cloudtest has no security suite yet"
  approver    = "QA lead (sample)"
  expires     = "2027-03-31"
}

