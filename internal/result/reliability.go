package result

// Experiment is the Data of a reliability suite's result: the faults as
// they were injected and removed, every probe, the write ledger and the
// objectives with what was measured against them.
type Experiment struct {
	Target string `json:"target"`
	Tier   string `json:"tier,omitempty"`
	// WindowS is how long probes and writes ran, in seconds.
	WindowS float64 `json:"window_s"`
	// ProbeEveryMS is the probe interval; RecoveredAfter the number of
	// consecutive successful probes that count as recovered.
	ProbeEveryMS   float64       `json:"probe_every_ms"`
	RecoveredAfter int           `json:"recovered_after"`
	Faults         []FaultRecord `json:"faults"`
	Probes         []Probe       `json:"probes"`
	// ProbesOK and ProbesFailed count the probes; Availability is the
	// share of the window the probes saw the target up (1 − OutageS/WindowS).
	ProbesOK     int `json:"probes_ok"`
	ProbesFailed int `json:"probes_failed"`
	// ProbesInFlightMax is the most probes that waited for an answer at
	// once (each goes out when due, whatever the others are doing; a
	// target that hangs has several waiting, never more than the probe's
	// timeout over its interval, plus one).
	ProbesInFlightMax int     `json:"probes_in_flight_max,omitempty"`
	Availability      float64 `json:"availability"`
	// OutageS adds up the outages seen by the probes, in seconds.
	OutageS float64 `json:"outage_s"`
	// RTOS is the longest recovery time of any fault, in seconds; Recovered
	// is false when a fault's outage had not ended when the window closed.
	RTOS      float64 `json:"rto_s"`
	Recovered bool    `json:"recovered"`
	Ledger    *Ledger `json:"ledger,omitempty"`
	// Objectives are the limits the measurements were compared with.
	Objectives []Objective `json:"objectives"`
	// Aborted says why the experiment ended its faults early, when it did.
	Aborted string `json:"aborted,omitempty"`
	// Interrupted is set when the run was cancelled during the experiment.
	Interrupted bool `json:"interrupted,omitempty"`
	// Unfinished is set when the experiment was put together from its
	// parts because its run ended (killed) before the suite did: the
	// figures stop at the last part, the writes were not read back and
	// the faults may still be in place.
	Unfinished bool `json:"unfinished,omitempty"`
}

// ExperimentPart is the Data of a reliability suite's LevelPart records,
// written about once a second during the window, at every injection and
// removal, and at its end: the probes that ended and the writes
// acknowledged since the part before, and the figures so far. Each part
// is small (about 70 bytes a probe and 50 a write, so a 10-minute window
// at 10 probes and 20 writes a second adds about 2 MB to results.jsonl).
type ExperimentPart struct {
	// Experiment, in the first part only, is what the experiment is
	// (target, tier, window, probe interval, faults), with nothing measured.
	Experiment *Experiment `json:"experiment,omitempty"`
	// AtS is when this part was written, in seconds from the window's start.
	AtS    float64       `json:"at_s"`
	Probes []Probe       `json:"probes,omitempty"`
	Writes []LedgerWrite `json:"writes,omitempty"`
	// Written counts the writes sent so far.
	Written int `json:"written,omitempty"`
	// The figures so far, measured on every probe up to this part.
	ProbesOK          int           `json:"probes_ok"`
	ProbesFailed      int           `json:"probes_failed"`
	ProbesInFlightMax int           `json:"probes_in_flight_max,omitempty"`
	OutageS           float64       `json:"outage_s"`
	Availability      float64       `json:"availability"`
	RTOS              float64       `json:"rto_s"`
	Recovered         bool          `json:"recovered"`
	Faults            []FaultRecord `json:"faults"`
}

// FaultRecord is one fault of an experiment as it happened. Times are in
// milliseconds from the start of the experiment.
type FaultRecord struct {
	Name     string `json:"name"`
	Action   string `json:"action"`
	Kind     string `json:"kind"`
	Engine   string `json:"engine"`
	Target   string `json:"target"`
	Location string `json:"location,omitempty"`
	// External marks the outage of a suite without faults: one caused
	// from outside cloudtest (a DR switch, a failover). It "starts"
	// (InjectedMS) at the first failed probe of the window.
	External bool `json:"external,omitempty"`
	// InjectedMS and RemovedMS are when it was applied and taken away (0
	// and Removed false when it never was).
	Injected   bool    `json:"injected"`
	InjectedMS float64 `json:"injected_ms"`
	Removed    bool    `json:"removed"`
	RemovedMS  float64 `json:"removed_ms,omitempty"`
	// OutageStartMS is the first failed probe after the injection;
	// RecoveredMS the first of the consecutive successes that ended it;
	// RTOMS = RecoveredMS − InjectedMS (0 when no probe failed).
	Outage        bool    `json:"outage"`
	OutageStartMS float64 `json:"outage_start_ms,omitempty"`
	RecoveredMS   float64 `json:"recovered_ms,omitempty"`
	RTOMS         float64 `json:"rto_ms"`
	Recovered     bool    `json:"recovered"`
	Error         string  `json:"error,omitempty"`
}

// Probe is one probe of the target during the experiment.
type Probe struct {
	// DueMS is when the probe was due (one every interval from the start
	// of the window, each sent on time whatever the others are doing);
	// AtMS when the answer came (or the probe gave up, or the run was
	// interrupted while it waited), from the start. LatencyMS is AtMS −
	// DueMS.
	DueMS     float64 `json:"due_ms"`
	AtMS      float64 `json:"at_ms"`
	OK        bool    `json:"ok"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// Ledger is what the write ledger measured: every write, which were
// acknowledged, and which of those could not be read back.
type Ledger struct {
	Written      int `json:"written"`
	Acknowledged int `json:"acknowledged"`
	Verified     int `json:"verified"`
	// Lost are acknowledged writes that were not there after recovery,
	// Duplicates writes that came back more than once (the same position
	// or id), OutOfOrder writes whose position is before an earlier
	// write's; Unverified could not be read (the read itself failed).
	Lost       []LedgerWrite `json:"lost,omitempty"`
	Duplicates []LedgerWrite `json:"duplicates,omitempty"`
	OutOfOrder []LedgerWrite `json:"out_of_order,omitempty"`
	Unverified []LedgerWrite `json:"unverified,omitempty"`
	// RPOS is the data-loss window in seconds: for each fault, its
	// injection time minus the acknowledgement time of the oldest write
	// lost before it; the largest of these (0 when nothing was lost).
	RPOS float64 `json:"rpo_s"`
}

// LedgerWrite is one write of the ledger.
type LedgerWrite struct {
	Seq int `json:"seq"`
	// ID is what the write step captured as id, when it did.
	ID      string  `json:"id,omitempty"`
	AckedMS float64 `json:"acked_ms"`
	Message string  `json:"message,omitempty"`
}

// Objective is one reliability objective and what was measured.
type Objective struct {
	Name     string `json:"name"` // rto, rpo, availability, outage
	Limit    string `json:"limit"`
	Measured string `json:"measured"`
	// Source says where the limit came from: "objectives" or "tier critical".
	Source string `json:"source"`
	Passed bool   `json:"passed"`
}
