# The guide asks the institution to run reliability and security tests of its
# own. cloudtest's reliability suites are still to come, so the demo
# waives them, with a reason, an approver and an expiry date, and the
# report shows every waived cell. A waiver past its date no longer counts.

waiver "reliability-suite-pending-ledger" {
  requirement = "core-ledger/reliability/test"
  reason      = "cloudtest has no reliability suite yet; the last failover drill is in the test plan"
  approver    = "Li Wei"
  expires     = "2027-03-31"
}
