package result

import "time"

// SecuritySummary is the Data of a security suite's result: the scope it
// was held to, the findings of its checks (with their waivers) and the
// outcome of its drills.
type SecuritySummary struct {
	Target string `json:"target,omitempty"`
	// Scope lists the hosts and networks traffic was allowed to reach.
	Scope []string `json:"scope"`
	// Requests counts what was sent; Refused counts what the scope guard
	// stopped before it left.
	Requests int `json:"requests"`
	Refused  int `json:"refused,omitempty"`
	// Checks ran, in order, with the count of findings of each.
	Checks   []CheckRun `json:"checks,omitempty"`
	Findings []Finding  `json:"findings,omitempty"`
	// Expected are the finding ids the suite declares as planted (a
	// negative control); Missing are those not found.
	Expected []string      `json:"expected,omitempty"`
	Missing  []string      `json:"missing,omitempty"`
	Waivers  []WaiverState `json:"waivers,omitempty"`
	Drills   []DrillRun    `json:"drills,omitempty"`
}

// CheckRun is one check of a security suite.
type CheckRun struct {
	Name     string `json:"name"`
	Findings int    `json:"findings"`
	// Error says why the check could not be carried out.
	Error string `json:"error,omitempty"`
}

// Finding is one weakness a check found.
type Finding struct {
	// ID is "check/rule", such as "headers/csp-missing"; waivers and
	// expect_findings name findings by it.
	ID       string `json:"id"`
	Check    string `json:"check"`
	Severity string `json:"severity"` // info, low, medium, high, critical
	Title    string `json:"title"`
	// Where is what the finding is about: a URL, a path, a port, a parameter.
	Where     string `json:"where"`
	Detail    string `json:"detail,omitempty"`
	Reference string `json:"reference,omitempty"`
	// Evidence is the request and the excerpt of the answer that prove it.
	Evidence *Exchange `json:"evidence,omitempty"`
	// Status is "open", "waived" or "expected".
	Status string `json:"status"`
	// Waiver names the waiver that accepted it.
	Waiver string `json:"waiver,omitempty"`
}

// WaiverState is a waiver of a security finding and whether it applied.
type WaiverState struct {
	Finding  string `json:"finding"`
	Where    string `json:"where,omitempty"`
	Reason   string `json:"reason"`
	Approver string `json:"approver"`
	Expires  string `json:"expires"`
	Expired  bool   `json:"expired,omitempty"`
	// Matched counts the findings it accepted.
	Matched int `json:"matched"`
}

// DrillRun is one attack-defense drill: its attacks, in order, and how many
// of them the defence blocked or detected.
type DrillRun struct {
	Name     string      `json:"name"`
	Started  time.Time   `json:"started"`
	Attacks  []AttackRun `json:"attacks"`
	Coverage float64     `json:"coverage"` // (blocked + detected) / attacks
	// MinCoverage is what the drill requires.
	MinCoverage float64 `json:"min_coverage"`
}

// AttackRun is one attack step of a drill and what the defence did.
type AttackRun struct {
	Name      string `json:"name"`
	Technique string `json:"technique,omitempty"` // built-in technique or "steps"
	MITRE     string `json:"mitre,omitempty"`     // MITRE ATT&CK technique id
	// Outcome is "blocked", "detected" or "missed" (or "error" when the
	// attack could not be sent).
	Outcome string `json:"outcome"`
	// Channel is what showed the detection: "status 429", "log", "webhook".
	Channel string `json:"channel,omitempty"`
	// StartMS and DetectMS are offsets from the drill's start; DetectMS is
	// zero when nothing was seen. TimeToDetectMS is from the attack's
	// first request to the first detection.
	StartMS        float64 `json:"start_ms"`
	SentMS         float64 `json:"sent_ms"` // when the last request of the attack was answered
	DetectMS       float64 `json:"detect_ms,omitempty"`
	TimeToDetectMS float64 `json:"time_to_detect_ms,omitempty"`
	WithinMS       float64 `json:"within_ms"`
	Requests       int     `json:"requests"`
	Message        string  `json:"message,omitempty"`
	// Evidence is the detection seen: the log line or the webhook body.
	Evidence string `json:"evidence,omitempty"`
}
