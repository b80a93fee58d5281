# Vendor evidence. The files are samples made for the demo; their digests,
# dates and the signature of the certification are real and are checked on
# every run (change one byte of a file and the run becomes INCOMPLETE).

evidence "core-ledger-design" {
  component   = "core-ledger"
  kind        = "design_doc"
  file        = "evidence/core-ledger-design.txt"
  sha256      = "0c5a696d9b4b676ba6d35fa92ead9dd471f4ef14a8b93a0c8f717f8c72cbcd11"
  issuer      = "Acme Private Cloud Services"
  issued      = "2026-09-15"
  valid_until = "2028-12-31"
  covers {
    categories = ["functional", "performance", "reliability", "security"]
    layers     = ["iaas", "paas"]
  }
}

evidence "core-ledger-test-plan" {
  component   = "core-ledger"
  kind        = "test_plan"
  file        = "evidence/core-ledger-test-plan.txt"
  sha256      = "e132e062ffe90ac09bc3fc273e3c77c5f715eb2ab034da1440dcc5d78342eb5c"
  issuer      = "Demo Bank QA and Acme Private Cloud Services"
  issued      = "2026-09-20"
  valid_until = "2028-12-31"
  covers {
    categories = ["functional", "performance", "reliability", "security"]
    layers     = ["iaas", "paas"]
  }
}

evidence "core-ledger-hardening" {
  component   = "core-ledger"
  kind        = "hardening_guide"
  file        = "evidence/core-ledger-hardening.txt"
  sha256      = "00ef2a45970a1fa1b85b44716b3c7c096aa95c3f91eed2e41c48ecf73da8756a"
  issuer      = "Acme Private Cloud Services"
  issued      = "2026-09-20"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas", "paas"]
  }
}

evidence "core-ledger-security-test" {
  component   = "core-ledger"
  kind        = "test_report"
  file        = "evidence/core-ledger-security-test.txt"
  sha256      = "64c097c4bc52909a70762a27f68d239e8308791aad1e45102b13deb27bfe4a47"
  issuer      = "Acme Private Cloud Services"
  issued      = "2026-10-02"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas", "paas"]
  }
}

evidence "core-ledger-security-manual" {
  component   = "core-ledger"
  kind        = "product_manual"
  file        = "evidence/core-ledger-security-manual.txt"
  sha256      = "70f020e41a305f2630f6cb3743094ab54b2ab53aa2d9d440125fc30a47bf29a0"
  issuer      = "Acme Private Cloud Services"
  issued      = "2026-08-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas", "paas"]
  }
}

evidence "core-ledger-best-practice" {
  component   = "core-ledger"
  kind        = "best_practice_guide"
  file        = "evidence/core-ledger-best-practice.txt"
  sha256      = "25ce70af50965f12b69ea752b88df7d2e6d45ee34f8f04642f47c07045f96608"
  issuer      = "Acme Private Cloud Services"
  issued      = "2026-08-01"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas", "paas"]
  }
}

evidence "acme-certification" {
  component   = "mobile-channel"
  kind        = "certification"
  file        = "evidence/acme-certification.txt"
  sha256      = "761066fd6d6ede3ac865dfb47b62a35ba689472eba4c5752003f1d0a82238a53"
  issuer      = "Acme Financial Community Cloud"
  issued      = "2026-06-30"
  valid_until = "2028-12-31"
  signature   = "evidence/acme-certification.sig"
  public_key  = "evidence/acme.pub"
  meta        = { certificate = "ACME-FCC-2026-0042" }
  covers {
    categories = ["functional", "performance", "reliability", "security"]
    layers     = ["iaas", "paas", "saas"]
  }
}

evidence "acme-security-test" {
  component   = "mobile-channel"
  kind        = "test_report"
  file        = "evidence/acme-security-test.txt"
  sha256      = "7341c2cb6aefdc3f68252f883a6c63b1a041b173580ed842505e3689f1ee325d"
  issuer      = "Acme Financial Community Cloud"
  issued      = "2026-07-15"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas", "paas", "saas"]
  }
}

evidence "acme-pentest" {
  component   = "mobile-channel"
  kind        = "pentest_report"
  file        = "evidence/acme-pentest.txt"
  sha256      = "97b342778803caf935819b04dbb2820209489bbeed907c830702e9d0632499f3"
  issuer      = "Independent Pentest Lab"
  issued      = "2026-07-30"
  valid_until = "2028-12-31"
  covers {
    categories = ["security"]
    layers     = ["iaas", "paas", "saas"]
  }
}

evidence "red-team-drill-2026" {
  components  = ["core-ledger", "mobile-channel"]
  kind        = "drill_report"
  file        = "evidence/drill-2026.txt"
  sha256      = "88a3914bcf53d12ee80ec5c4ed29da9b0b717400c7178d33ce816a97b13a30fe"
  issuer      = "Qualified red team (sample)"
  issued      = "2026-10-24"
  valid_until = "2027-10-24"
  covers {
    categories = ["security"]
  }
}
