// Package performance will run performance suites: full-link load with
// vegeta's pacers (open model) or virtual users (closed model), latency
// percentiles, TPS, target utilization, thresholds, and comparison with the
// legacy deployment or an earlier run. It holds no suite kind yet: a
// `performance` block is refused by the loader until it does.
package performance
