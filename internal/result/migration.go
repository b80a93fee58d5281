package result

// MigrationSummary is the Data of a migration suite's result: the two
// databases (never their credentials) and, per table, each level of the
// comparison with its counts and the first differing rows.
type MigrationSummary struct {
	Source Endpoint     `json:"source"`
	Target Endpoint     `json:"target"`
	Tables []TableCheck `json:"tables"`
	// FixFile is the run-directory path of the statements that would bring
	// the target in line ("" when nothing differs); FixStatements counts them.
	FixFile       string `json:"fix_file,omitempty"`
	FixStatements int64  `json:"fix_statements,omitempty"`
	MaxDiffs      int    `json:"max_diffs"`
}

// Endpoint says which database one side is, without user or password.
type Endpoint struct {
	Driver string `json:"driver"`
	Where  string `json:"where"`
}

// TableCheck is one table compared on both sides.
type TableCheck struct {
	Name     string   `json:"name"`
	Target   string   `json:"target"` // the table's name on the target
	Location string   `json:"location,omitempty"`
	Key      []string `json:"key,omitempty"`
	// Columns are the compared columns, source name → target name, with
	// their types on each side and the common class they are compared as.
	Columns []ColumnPair `json:"columns,omitempty"`
	Levels  []LevelCheck `json:"levels"`

	SourceRows int64 `json:"source_rows"`
	TargetRows int64 `json:"target_rows"`
	// Rows level: every difference is counted; Diffs lists the first
	// max_diffs of them in key order.
	Compared   int64            `json:"compared"`
	Missing    int64            `json:"missing"`
	Extra      int64            `json:"extra"`
	Changed    int64            `json:"changed"`
	Duplicates int64            `json:"duplicates"`
	Reasons    map[string]int64 `json:"reasons,omitempty"` // changed values by reason: value, null vs empty, trailing space…
	Diffs      []RowDiff        `json:"diffs,omitempty"`
	// Ranges is how the key space was split; Checksummed ranges agreed by
	// checksum in both databases; Fetched ranges had their rows compared.
	Ranges      int     `json:"ranges,omitempty"`
	Checksummed int     `json:"checksummed,omitempty"`
	Fetched     int     `json:"fetched,omitempty"`
	DurationMS  float64 `json:"duration_ms"`
	Error       string  `json:"error,omitempty"`
}

// ColumnPair is a compared column.
type ColumnPair struct {
	Source     string  `json:"source"`
	Target     string  `json:"target"`
	SourceType string  `json:"source_type"`
	TargetType string  `json:"target_type"`
	Class      string  `json:"class"`
	Tolerance  float64 `json:"tolerance,omitempty"`
}

// LevelCheck is one level of a table's comparison: schema, count,
// aggregates or rows.
type LevelCheck struct {
	Level    string   `json:"level"`
	Status   Status   `json:"status"`
	Message  string   `json:"message,omitempty"`
	Findings []string `json:"findings,omitempty"`
	// Notes are differences that are not findings (a wider column).
	Notes      []string `json:"notes,omitempty"`
	DurationMS float64  `json:"duration_ms"`
}

// RowDiff is one row that differs: missing on the target, extra on the
// target, changed, or a duplicate of a key on one side.
type RowDiff struct {
	Kind  string   `json:"kind"`           // missing | extra | changed | duplicate
	Side  string   `json:"side,omitempty"` // for a duplicate: source or target
	Key   []string `json:"key"`
	Cells []Cell   `json:"cells"`
}

// Cell is one column of a differing row, both sides' values side by side.
type Cell struct {
	Column     string `json:"column"`
	Source     string `json:"source,omitempty"`
	Target     string `json:"target,omitempty"`
	SourceNull bool   `json:"source_null,omitempty"`
	TargetNull bool   `json:"target_null,omitempty"`
	// Absent says which side has no such row (missing, extra).
	Absent  string `json:"absent,omitempty"`
	Differs bool   `json:"differs,omitempty"`
	Reason  string `json:"reason,omitempty"`
}
