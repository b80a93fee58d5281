// Package security will run security suites: post-migration checks (TLS,
// headers, authentication, CORS, exposure, injection, rate limits) and
// attack-defense drills, always inside a declared scope. It holds no suite
// kind yet: a `security` block is refused by the loader until it does.
package security
