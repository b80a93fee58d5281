// Package evidence will verify what a cloud vendor hands over (digests,
// validity dates, issuers, scope, detached signatures) and keep verified
// files in the run directory by digest. Nothing is verified yet: the
// acceptance report does not claim any evidence.
package evidence
