// Package security runs security suites: post-migration checks that turn
// what they find into findings with a severity, evidence and a reference,
// and attack-defense drills whose detections (a block status, a log line,
// a webhook) are timed. Every connection of a check, a step or a drill goes
// through a scope guard that refuses, before anything leaves, any address
// outside the declared scope.
//
// Each kind of check is one type in its own file (tls.go, headers.go,
// auth.go, cors.go, exposure.go, injection.go, login.go for rate_limit and
// default_credentials, …): its settings with their defaults, its block
// schema, its decoder and its run, registered from the file's init with
// register (check.go). A new check is one new file and its test; the
// decoder (security.go) and the runner (run.go) find it in the registry.
// Drills are decoded in drill.go and run in drillrun.go and techniques.go;
// the guard is scope.go.
//
// The cloudtest command lists Kind among its suite kinds; the package's
// API takes types of cloudtest's internal packages (config, runner), so it
// is not a library for other modules.
package security
