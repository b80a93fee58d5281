package migration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/step"
)

// Run connects to both databases and compares every table, level by
// level. A table that cannot be compared (missing on one side, a bad key)
// is an error of that table only; the others go on.
func (s *Suite) Run(ctx context.Context, env *runner.Env) runner.Outcome {
	secrets := env.Config.SensitiveValues()
	sum := &result.MigrationSummary{MaxDiffs: s.MaxDiffs,
		Source: result.Endpoint{Driver: s.Source.Driver}, Target: result.Endpoint{Driver: s.Target.Driver}}
	sides, connErrs := s.connect(ctx, env, sum, &secrets)
	defer func() {
		for _, sd := range sides {
			if sd != nil {
				sd.close()
			}
		}
	}()
	red := step.NewRedactor(secrets)
	sum.Source.Where, sum.Target.Where = red.String(sum.Source.Where), red.String(sum.Target.Where)
	status := result.Passed
	var messages []string
	worse := func(st result.Status, msg string) {
		if st.Worse(status) {
			status = st
		}
		if msg != "" {
			messages = append(messages, msg)
		}
	}
	if len(connErrs) > 0 {
		msg := red.String(strings.Join(connErrs, "\n"))
		s.notCompared(env, sum, msg)
		worse(result.Errored, msg)
		return outcome(status, messages, sum)
	}
	for _, t := range s.Tables {
		if ctx.Err() != nil {
			break
		}
		env.Status("table " + t.Name)
		tc := s.compareTable(ctx, env, t, sides[0], sides[1], red)
		for _, l := range tc.Levels {
			env.Record(result.Result{Level: result.LevelStep, Case: t.Name, Step: l.Level, Phase: "test", Status: l.Status,
				Message: levelText(l), Location: tc.Location, DurationMS: l.DurationMS})
			if l.Status != result.Passed {
				worse(l.Status, fmt.Sprintf("%s %s: %s", t.Name, l.Level, firstLine(l.Message)))
			}
		}
		sum.FixStatements += fixCount(tc)
		sum.Tables = append(sum.Tables, tc)
	}
	if sum.FixStatements > 0 {
		sum.FixFile = FixFile
	}
	// Differences found in one table are a finding, whatever another
	// table that could not be compared says: the suite failed (its
	// messages name the table that erred too), not "could not be carried
	// out".
	for _, tc := range sum.Tables {
		for _, l := range tc.Levels {
			if l.Status == result.Failed && status == result.Errored {
				status = result.Failed
			}
		}
	}
	return outcome(status, messages, sum)
}

// connect opens the source and the target; a side that cannot be opened is
// nil and its error is in errs, naming its block.
func (s *Suite) connect(ctx context.Context, env *runner.Env, sum *result.MigrationSummary, secrets *[]string) (sides [2]side, errs []string) {
	for i, ep := range []Endpoint{s.Source, s.Target} {
		env.Status("connecting to the " + ep.Role)
		sd, err := open(ctx, ep, s.Parallel, secrets)
		if err != nil {
			errs = append(errs, inErr(&ep.DeclRange, "%s: %v", ep.Role, err).Error())
			continue
		}
		sides[i] = sd
		if i == 0 {
			sum.Source.Where = sd.describe()
		} else {
			sum.Target.Where = sd.describe()
		}
	}
	return sides, errs
}

// notCompared records every level of every table as not compared, for msg.
func (s *Suite) notCompared(env *runner.Env, sum *result.MigrationSummary, msg string) {
	for _, t := range s.Tables {
		tc := result.TableCheck{Name: t.Name, Target: t.TargetName, Location: config.Location(t.DeclRange), Error: msg}
		for _, l := range t.Levels {
			tc.Levels = append(tc.Levels, result.LevelCheck{Level: l, Status: result.Errored, Message: "not compared: " + msg})
			env.Record(result.Result{Level: result.LevelStep, Case: t.Name, Step: l, Phase: "test", Status: result.Errored,
				Message: "not compared: " + msg, Location: tc.Location})
		}
		sum.Tables = append(sum.Tables, tc)
	}
}

func fixCount(tc result.TableCheck) int64 { return tc.Missing + tc.Extra + tc.Changed + tc.Duplicates }

func outcome(st result.Status, messages []string, sum *result.MigrationSummary) runner.Outcome {
	data, _ := json.Marshal(sum)
	return runner.Outcome{Status: st, Message: strings.Join(messages, "\n"), Data: data}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// levelText is a level's message with its findings, for JUnit and the terminal.
func levelText(l result.LevelCheck) string {
	var b strings.Builder
	b.WriteString(l.Message)
	for _, f := range l.Findings {
		b.WriteString("\n- " + f)
	}
	return b.String()
}

// compareTable runs the levels of one table.
func (s *Suite) compareTable(ctx context.Context, env *runner.Env, t *Table, src, tgt side, red *step.Redactor) (tc result.TableCheck) {
	start := time.Now()
	tc = result.TableCheck{Name: t.Name, Target: t.TargetName, Location: config.Location(t.DeclRange)}
	defer func() { tc.DurationMS = float64(time.Since(start).Microseconds()) / 1000 }()
	p, err := buildPlan(ctx, t, src, tgt)
	if err != nil {
		msg := red.String(err.Error())
		tc.Error = msg
		for _, l := range t.Levels {
			tc.Levels = append(tc.Levels, result.LevelCheck{Level: l, Status: result.Errored, Message: "not compared: " + msg})
		}
		return tc
	}
	for _, kp := range p.keyPairs {
		tc.Key = append(tc.Key, kp.srcN)
	}
	for _, pr := range append(slices.Clone(p.keyPairs), p.pairs...) {
		tc.Columns = append(tc.Columns, result.ColumnPair{Source: pr.srcN, Target: pr.tgtN, SourceType: pr.src.Text, TargetType: pr.tgt.Text, Class: pr.cls.String(), Tolerance: pr.tol})
	}
	c := &tableCompare{s: s, t: t, src: src, tgt: tgt, red: red, p: p, tc: &tc, tw: t.TargetWhere, done: map[string]result.LevelCheck{}}
	if c.tw == "" {
		c.tw = t.Where
	}
	defer func() {
		for _, name := range Levels {
			if l, ok := c.done[name]; ok {
				tc.Levels = append(tc.Levels, l)
			}
		}
	}()
	c.fix = newFixWriter(env.Dir, s.Name, t.TargetName, tgt.dialect(), red)
	c.tr = newTableRun(p, src, tgt, s, red, c.fix)
	// When every row is fetched anyway (no checksums), the aggregates are
	// computed from the rows as they stream: one pass over each table, not two.
	streamAggs := !c.tr.checksum && slices.Contains(t.Levels, LevelRows) && slices.Contains(t.Levels, LevelAggregates) && len(p.pairs) > 0
	if streamAggs {
		c.tr.aggs = &[2][]*aggAcc{c.tr.newAccs(true), c.tr.newAccs(false)}
	}
	c.level(LevelSchema, c.schema)
	c.level(LevelCount, func() result.LevelCheck { return c.count(ctx) })
	rows := func() result.LevelCheck { return c.rows(ctx) }
	if streamAggs {
		c.level(LevelRows, rows)
		c.level(LevelAggregates, c.streamedAggregates)
		return tc
	}
	c.level(LevelAggregates, func() result.LevelCheck { return c.aggregates(ctx) })
	c.level(LevelRows, rows)
	return tc
}

// tableCompare is one table's comparison under way: its plan, what the
// levels found so far (done), and the row comparison.
type tableCompare struct {
	s        *Suite
	t        *Table
	src, tgt side
	red      *step.Redactor
	p        *plan
	tc       *result.TableCheck
	tw       string // the target's where
	counted  bool
	done     map[string]result.LevelCheck
	fix      *fixWriter
	tr       *tableRun
}

// level runs one level when the table asks for it, timed, its texts
// redacted.
func (c *tableCompare) level(name string, run func() result.LevelCheck) {
	if !slices.Contains(c.t.Levels, name) {
		return
	}
	start := time.Now()
	l := run()
	l.Level = name
	l.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	l.Message = c.red.String(l.Message)
	for i := range l.Findings {
		l.Findings[i] = c.red.String(l.Findings[i])
	}
	c.done[name] = l
}

func (c *tableCompare) schema() result.LevelCheck {
	p := c.p
	l := result.LevelCheck{Status: result.Passed, Findings: p.findings, Notes: p.notes}
	l.Message = fmt.Sprintf("%d columns compared, key (%s)", len(p.pairs)+len(p.keyPairs), strings.Join(c.tc.Key, ", "))
	if len(p.findings) > 0 {
		l.Status = result.Failed
		l.Message = fmt.Sprintf("%d schema differences; %s", len(p.findings), l.Message)
	}
	return l
}

func (c *tableCompare) count(ctx context.Context) result.LevelCheck {
	t := c.t
	var n1, n2 int64
	var e1, e2 error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); n1, e1 = c.src.count(ctx, t.Name, t.Where) }()
	go func() { defer wg.Done(); n2, e2 = c.tgt.count(ctx, t.TargetName, c.tw) }()
	wg.Wait()
	if err := errors.Join(sideErr("source", e1, t), sideErr("target", e2, t)); err != nil {
		return result.LevelCheck{Status: result.Errored, Message: err.Error()}
	}
	c.tc.SourceRows, c.tc.TargetRows, c.counted = n1, n2, true
	if n1 != n2 {
		return result.LevelCheck{Status: result.Failed, Message: fmt.Sprintf("%d rows on the source, %d on the target (%+d)", n1, n2, n2-n1)}
	}
	return result.LevelCheck{Status: result.Passed, Message: fmt.Sprintf("%d rows on both sides", n1)}
}

func (c *tableCompare) rows(ctx context.Context) result.LevelCheck {
	t := c.t
	l := c.tr.run(ctx, c.tc, c.counted)
	if _, err := c.fix.finish(fmt.Sprintf("suite %q, table %s → %s", c.s.Name, t.Name, t.TargetName)); err != nil {
		l.Notes = append(l.Notes, fmt.Sprintf("fix.sql could not be written: %v", err))
	}
	return l
}

// streamedAggregates are the aggregates the row comparison computed as
// the rows streamed.
func (c *tableCompare) streamedAggregates() result.LevelCheck {
	if l := c.done[LevelRows]; l.Status == result.Errored || l.Status == result.Skipped {
		return result.LevelCheck{Status: l.Status, Message: "not compared: the rows could not be read"}
	}
	p := c.p
	a1, a2 := make([]aggregate, len(p.pairs)), make([]aggregate, len(p.pairs))
	for i := range p.pairs {
		a1[i], a2[i] = c.tr.aggs[0][i].result(), c.tr.aggs[1][i].result()
	}
	return aggregateLevel(p, a1, a2, c.t, "computed from every row as it streamed")
}

// aggregates are computed in each database.
func (c *tableCompare) aggregates(ctx context.Context) result.LevelCheck {
	p, t := c.p, c.t
	scols, tcols := make([]column, len(p.pairs)), make([]column, len(p.pairs))
	for i, pr := range p.pairs {
		scols[i], tcols[i] = column{name: pr.srcN, t: *pr.src}, column{name: pr.tgtN, t: *pr.tgt}
	}
	if len(p.pairs) == 0 {
		return result.LevelCheck{Status: result.Passed, Message: "no column besides the key"}
	}
	var a1, a2 []aggregate
	var e1, e2 error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a1, e1 = c.src.aggregates(ctx, t.Name, t.Where, scols) }()
	go func() { defer wg.Done(); a2, e2 = c.tgt.aggregates(ctx, t.TargetName, c.tw, tcols) }()
	wg.Wait()
	if err := errors.Join(sideErr("source", e1, t), sideErr("target", e2, t)); err != nil {
		return result.LevelCheck{Status: result.Errored, Message: err.Error()}
	}
	return aggregateLevel(p, a1, a2, t, "computed in each database")
}

func aggregateLevel(p *plan, a1, a2 []aggregate, t *Table, how string) result.LevelCheck {
	f, loose := compareAggregates(p.pairs, a1, a2, t.Ignore)
	note := ""
	if len(loose) > 0 {
		note = fmt.Sprintf("; the min, max and length of %s not compared: ignore accepts %s, which moves them", strings.Join(loose, ", "), strings.Join(slices.DeleteFunc(slices.Clone(t.Ignore), func(r string) bool { return !movesText(r) }), " and "))
	}
	if len(f) > 0 {
		return result.LevelCheck{Status: result.Failed, Message: fmt.Sprintf("%d column aggregates differ (%s)%s", len(f), how, note), Findings: f}
	}
	return result.LevelCheck{Status: result.Passed, Message: fmt.Sprintf("count, NULLs, min, max, sum and length agree for %d columns (%s)%s", len(p.pairs), how, note)}
}

func sideErr(role string, err error, t *Table) error {
	if err == nil {
		return nil
	}
	return inErr(&t.DeclRange, "%s: %v", role, err)
}

// keyRange is one part of the key space.
type keyRange struct {
	ranged   bool
	lo, hi   int64
	last     bool
	position int
}

// ranges splits an integer key's span into parts of about chunkRows rows
// each; any other key is one range (still streamed, never held).
func (tr *tableRun) ranges(ctx context.Context, tc *result.TableCheck, counted bool) ([]keyRange, error) {
	whole := []keyRange{{}}
	if !tr.p.intKey {
		return whole, nil
	}
	k1, k2 := tr.srcQ.key[0], tr.tgtQ.key[0]
	lo1, hi1, ok1, err := tr.src.keyBounds(ctx, tr.srcQ.table, tr.srcQ.where, k1)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	lo2, hi2, ok2, err := tr.tgt.keyBounds(ctx, tr.tgtQ.table, tr.tgtQ.where, k2)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	if !ok1 && !ok2 {
		return whole, nil
	}
	lo, hi := lo1, hi1
	switch {
	case !ok1:
		lo, hi = lo2, hi2
	case ok2:
		lo, hi = min(lo1, lo2), max(hi1, hi2)
	}
	rows := max(tc.SourceRows, tc.TargetRows)
	if !counted {
		rows = hi - lo + 1
	}
	n := int64(1)
	if tr.chunkRows > 0 {
		n = (rows + int64(tr.chunkRows) - 1) / int64(tr.chunkRows)
	}
	n = max(1, min(n, 4096))
	// Parts of the key span, not of the rows: with gaps in the keys a part
	// holds fewer rows, never more than the span allows.
	span := uint64(hi-lo) + 1
	width := max(span/uint64(n), 1)
	var out []keyRange
	for a := lo; ; {
		b := a + int64(width)
		if b >= hi || b <= a || uint64(b-lo) >= span {
			out = append(out, keyRange{ranged: true, lo: a, hi: hi, last: true, position: len(out)})
			break
		}
		out = append(out, keyRange{ranged: true, lo: a, hi: b, position: len(out)})
		a = b
	}
	return out, nil
}

// run compares every row by key, range by range, over a few connections.
func (tr *tableRun) run(ctx context.Context, tc *result.TableCheck, counted bool) result.LevelCheck {
	rs, err := tr.ranges(ctx, tc, counted)
	if err != nil {
		return result.LevelCheck{Status: result.Errored, Message: tr.red.String(err.Error())}
	}
	tc.Ranges = len(rs)
	outs, errs := tr.compareRanges(ctx, rs)
	tot := rangeTotals{reasons: map[string]int64{}}
	for i, o := range outs {
		if errs[i] != nil && !errors.Is(errs[i], context.Canceled) {
			return result.LevelCheck{Status: result.Errored, Message: tr.red.String(inErr(&tr.p.t.DeclRange, "%v", errs[i]).Error())}
		}
		if o == nil {
			if ctx.Err() != nil {
				return result.LevelCheck{Status: result.Skipped, Message: "interrupted"}
			}
			continue
		}
		tot.add(tc, o, tr.maxDiffs)
	}
	if len(tot.reasons) > 0 {
		tc.Reasons = tot.reasons
	}
	return tr.rowsLevel(tc, counted, &tot)
}

// compareRanges compares the ranges over at most tr.parallel connections;
// the first error cancels the ranges not yet compared.
func (tr *tableRun) compareRanges(ctx context.Context, rs []keyRange) ([]*rangeOut, []error) {
	outs := make([]*rangeOut, len(rs))
	errs := make([]error, len(rs))
	work := make(chan keyRange)
	var wg sync.WaitGroup
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(tr.parallel, len(rs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				outs[r.position], errs[r.position] = tr.compareKeyRange(cctx, r)
				if errs[r.position] != nil {
					cancel()
				}
			}
		}()
	}
	for _, r := range rs {
		if cctx.Err() != nil {
			break
		}
		work <- r
	}
	close(work)
	wg.Wait()
	return outs, errs
}

// rangeTotals are the sums over the ranges that the table's check does
// not keep itself.
type rangeTotals struct {
	srcRows, tgtRows, dupSrc, dupTgt int64
	reasons                          map[string]int64
}

// add counts one range's outcome into tc and the totals, keeping at most
// maxDiffs differences.
func (tot *rangeTotals) add(tc *result.TableCheck, o *rangeOut, maxDiffs int) {
	tot.srcRows += o.srcRows
	tot.tgtRows += o.tgtRows
	tc.Compared += o.compared
	tc.Missing += o.missing
	tc.Extra += o.extra
	tc.Changed += o.changed
	tc.Duplicates += o.dup
	tot.dupSrc += o.dupSrc
	tot.dupTgt += o.dupTgt
	for k, v := range o.reasons {
		tot.reasons[k] += v
	}
	if o.checksummed {
		tc.Checksummed++
	} else {
		tc.Fetched++
	}
	for _, d := range o.diffs {
		if len(tc.Diffs) < maxDiffs {
			tc.Diffs = append(tc.Diffs, d)
		}
	}
}

// ofRows says, when the rows compared (a source row and a target row of
// one key) are not every row of both sides, how many rows each side has:
// "3 rows compared by key (id)" beside 4 source rows is otherwise read as
// a row left out. A missing, extra or duplicate row is counted apart.
func ofRows(tc *result.TableCheck, tot *rangeTotals) string {
	if tot.srcRows == tc.Compared && tot.tgtRows == tc.Compared {
		return ""
	}
	var rest []string
	if tc.Missing+tc.Extra > 0 {
		rest = append(rest, "missing and extra rows")
	}
	if tot.dupSrc+tot.dupTgt > 0 {
		rest = append(rest, "the further rows of a duplicate key")
	}
	why := ""
	if len(rest) > 0 {
		why = "; " + strings.Join(rest, " and ") + " are not compared"
	}
	return fmt.Sprintf(" (of %d source and %d target rows%s)", tot.srcRows, tot.tgtRows, why)
}

// rowsLevel is the verdict of the rows level from the summed ranges.
func (tr *tableRun) rowsLevel(tc *result.TableCheck, counted bool, tot *rangeTotals) result.LevelCheck {
	l := result.LevelCheck{Status: result.Passed}
	how := fmt.Sprintf("by key (%s)", strings.Join(tc.Key, ", "))
	if tc.Ranges > 1 {
		how += fmt.Sprintf(" in %d ranges", tc.Ranges)
	}
	if tc.Checksummed > 0 {
		how += fmt.Sprintf(", %d agreed by checksum", tc.Checksummed)
	}
	// Ranges cover the key span only: a row whose key is NULL is in none.
	if counted && (tot.srcRows != tc.SourceRows || tot.tgtRows != tc.TargetRows) && tc.Ranges > 1 {
		l.Findings = append(l.Findings, fmt.Sprintf("%d source rows and %d target rows were not in any key range (a NULL key?)", tc.SourceRows-tot.srcRows, tc.TargetRows-tot.tgtRows))
	}
	if tc.Duplicates > 0 {
		l.Findings = append(l.Findings, inErr(orRange(tr.p.t.KeyRange, &tr.p.t.DeclRange),
			"the key (%s) is not unique: %d more rows with a key already seen on the source, %d on the target; a key must identify one row",
			strings.Join(tc.Key, ", "), tot.dupSrc, tot.dupTgt).Error())
	}
	diffs := tc.Missing + tc.Extra + tc.Changed + tc.Duplicates
	if diffs == 0 && len(l.Findings) == 0 {
		l.Message = fmt.Sprintf("%d rows identical %s%s", tc.Compared, how, ofRows(tc, tot))
		if n := ignoredCount(tot.reasons); n > 0 {
			l.Message += fmt.Sprintf("; %d accepted differences (%s)", n, reasonText(tot.reasons))
		}
		return l
	}
	l.Status = result.Failed
	l.Message = fmt.Sprintf("%d rows differ (%s); %d rows compared %s%s", diffs, countsText(tc), tc.Compared, how, ofRows(tc, tot))
	for _, d := range tc.Diffs[:min(len(tc.Diffs), 5)] {
		l.Findings = append(l.Findings, diffText(d))
	}
	if len(tc.Diffs) > 5 {
		l.Findings = append(l.Findings, fmt.Sprintf("… %d more listed in the report", len(tc.Diffs)-5))
	}
	return l
}

func (tr *tableRun) compareKeyRange(ctx context.Context, r keyRange) (*rangeOut, error) {
	sq, tq := tr.srcQ, tr.tgtQ
	sq.ranged, sq.lo, sq.hi, sq.last = r.ranged, r.lo, r.hi, r.last
	tq.ranged, tq.lo, tq.hi, tq.last = r.ranged, r.lo, r.hi, r.last
	if tr.checksum {
		var n1, n2 int64
		var c1, c2 string
		var ok1, ok2 bool
		var e1, e2 error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); n1, c1, ok1, e1 = tr.src.checksum(ctx, sq) }()
		go func() { defer wg.Done(); n2, c2, ok2, e2 = tr.tgt.checksum(ctx, tq) }()
		wg.Wait()
		if e1 == nil && e2 == nil && ok1 && ok2 && n1 == n2 && c1 == c2 {
			return &rangeOut{srcRows: n1, tgtRows: n2, compared: n1, checksummed: true}, nil
		}
		// A checksum that fails (an unusual type) is no verdict: compare the rows.
	}
	return tr.compareRange(ctx, sq, tq)
}

func ignoredCount(reasons map[string]int64) int64 {
	var n int64
	for k, v := range reasons {
		if strings.HasSuffix(k, " (ignored)") {
			n += v
		}
	}
	return n
}

func reasonText(reasons map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(reasons)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, reasons[k]))
	}
	return strings.Join(parts, ", ")
}

func countsText(tc *result.TableCheck) string {
	var parts []string
	if tc.Missing > 0 {
		parts = append(parts, fmt.Sprintf("%d missing on the target", tc.Missing))
	}
	if tc.Extra > 0 {
		parts = append(parts, fmt.Sprintf("%d extra on the target", tc.Extra))
	}
	if tc.Changed > 0 {
		parts = append(parts, fmt.Sprintf("%d changed: %s", tc.Changed, reasonText(tc.Reasons)))
	}
	if tc.Duplicates > 0 {
		parts = append(parts, fmt.Sprintf("%d duplicate keys", tc.Duplicates))
	}
	return strings.Join(parts, ", ")
}

// diffText writes one differing row on one line.
func diffText(d result.RowDiff) string {
	key := strings.Join(d.Key, ", ")
	switch d.Kind {
	case "missing":
		return fmt.Sprintf("key (%s) missing on the target", key)
	case "extra":
		return fmt.Sprintf("key (%s) extra on the target", key)
	case "duplicate":
		return fmt.Sprintf("key (%s) appears more than once on the %s", key, d.Side)
	}
	var parts []string
	for _, c := range d.Cells {
		if c.Differs {
			parts = append(parts, fmt.Sprintf("%s: %s → %s (%s)", c.Column, cellText(c.Source, c.SourceNull, c.Reason), cellText(c.Target, c.TargetNull, c.Reason), c.Reason))
		}
	}
	return fmt.Sprintf("key (%s) changed: %s", key, strings.Join(parts, "; "))
}

// cellText is a cell's value quoted, NULL, or, when it differs by its
// Unicode normalization only, quoted with every character outside ASCII
// escaped ("caf\u00e9" → "cafe\u0301"): both would look the same.
func cellText(s string, null bool, reason string) string {
	if null {
		return "NULL"
	}
	if reason == ReasonNormalization {
		return strconv.QuoteToASCII(s)
	}
	return fmt.Sprintf("%q", s)
}
