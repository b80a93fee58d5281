# The guide asks the institution to run security tests of its own.
# cloudtest's security suite is still to come, so the demo waives them,
# with a reason, an approver and an expiry date, and the report shows every
# waived cell. A waiver past its date no longer counts.

waiver "security-suite-pending-ledger" {
  requirement = "core-ledger/security/test"
  reason      = "cloudtest has no security suite yet; the vendor's security test report is reviewed instead"
  approver    = "Chen Jing"
  expires     = "2027-03-31"
}

waiver "security-suite-pending-mobile" {
  requirement = "mobile-channel/security/test"
  reason      = "cloudtest has no security suite yet; Acme's penetration test report is reviewed instead"
  approver    = "Chen Jing"
  expires     = "2027-03-31"
}
