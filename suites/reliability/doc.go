// Package reliability will run reliability suites: steady-state probes,
// faults in Chaos Mesh's vocabulary injected through internal/fault, and the
// RTO and RPO measured against the component's disaster-recovery tier. It
// holds no suite kind yet: a `reliability` block is refused by the loader
// until it does.
package reliability
