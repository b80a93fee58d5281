package migration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/step"
)

// tableRun compares the rows of one planned table.
type tableRun struct {
	p         *plan
	src, tgt  side
	srcQ      rowQuery // without a range
	tgtQ      rowQuery
	maxDiffs  int
	parallel  int
	chunkRows int
	checksum  bool
	ignore    map[string]bool
	red       *step.Redactor
	fix       *fixWriter
	// aggs, when set, are the aggregates of the non-key columns of each
	// side, computed from the rows as they stream (every range is fetched).
	aggs   *[2][]*aggAcc
	aggsMu sync.Mutex
}

func newTableRun(p *plan, src, tgt side, s *Suite, red *step.Redactor, fix *fixWriter) *tableRun {
	tr := &tableRun{p: p, src: src, tgt: tgt, maxDiffs: s.MaxDiffs, parallel: s.Parallel, chunkRows: s.ChunkRows,
		checksum: s.Checksum && p.keyUnique && src.dialect() != "csv" && tgt.dialect() != "csv", ignore: map[string]bool{}, red: red, fix: fix}
	for _, r := range p.t.Ignore {
		tr.ignore[r] = true
	}
	tw := p.t.TargetWhere
	if tw == "" {
		tw = p.t.Where
	}
	tr.srcQ = rowQuery{table: p.t.Name, where: p.t.Where}
	tr.tgtQ = rowQuery{table: p.t.TargetName, where: tw}
	for _, kp := range p.keyPairs {
		tr.srcQ.key = append(tr.srcQ.key, kp.srcN)
		tr.tgtQ.key = append(tr.tgtQ.key, kp.tgtN)
	}
	for _, pr := range append(slices.Clone(p.keyPairs), p.pairs...) {
		tr.srcQ.cols = append(tr.srcQ.cols, pr.srcN)
		tr.tgtQ.cols = append(tr.tgtQ.cols, pr.tgtN)
		tr.srcQ.types = append(tr.srcQ.types, pr.src)
		tr.tgtQ.types = append(tr.tgtQ.types, pr.tgt)
	}
	return tr
}

// rangeOut is what the comparison of one key range found.
type rangeOut struct {
	srcRows, tgtRows                       int64
	compared, missing, extra, changed, dup int64
	dupSrc, dupTgt                         int64
	reasons                                map[string]int64
	diffs                                  []result.RowDiff
	checksummed                            bool
}

const batchRows = 1024

type batch struct {
	rows [][]val
	// file and lines are where the rows are (a csv file, each row's
	// line), when the side knows (positioned); empty for a database's.
	file  string
	lines []int
	err   error
}

// positioned is a row iterator that knows where its last row is written
// (a csv file and line), for errors that name it.
type positioned interface {
	pos() (file string, line int)
}

// at is "FILE line N: " of it's last row, or "" when it does not know.
func at(it rowIter) string {
	if p, ok := it.(positioned); ok {
		f, l := p.pos()
		return fmt.Sprintf("%s line %d: ", f, l)
	}
	return ""
}

// newAccs returns an accumulator for each non-key column of one side.
func (tr *tableRun) newAccs(source bool) []*aggAcc {
	out := make([]*aggAcc, len(tr.p.pairs))
	for i, p := range tr.p.pairs {
		t := p.tgt
		if source {
			t = p.src
		}
		out[i] = newAggAcc(t)
	}
	return out
}

// stream reads a side's rows in key order, canonicalized, in batches;
// accs (when not nil) see every value of the columns from offset on.
func stream(ctx context.Context, s side, q rowQuery, out chan<- batch, accs []*aggAcc, offset int) {
	defer close(out)
	send := func(b batch) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	it, err := s.rows(ctx, q)
	if err != nil {
		send(batch{err: err})
		return
	}
	defer it.close()
	n := len(q.cols)
	dest := make([]any, n)
	ps, _ := it.(positioned)
	for {
		slab := make([]val, batchRows*n)
		rows := make([][]val, 0, batchRows)
		var file string
		var lines []int
		for len(rows) < batchRows {
			ok, err := it.next(dest)
			if err != nil {
				send(batch{rows: rows, file: file, lines: lines, err: err})
				return
			}
			if !ok {
				if len(rows) > 0 {
					send(batch{rows: rows, file: file, lines: lines})
				}
				return
			}
			if ps != nil {
				f, l := ps.pos()
				file, lines = f, append(lines, l)
			}
			r := slab[len(rows)*n : (len(rows)+1)*n : (len(rows)+1)*n]
			for i := range dest {
				v, err := canon(q.types[i], dest[i])
				if err != nil {
					send(batch{rows: rows, file: file, lines: lines, err: fmt.Errorf("%scolumn %q: %w", at(it), q.cols[i], err)})
					return
				}
				r[i] = v
				dest[i] = nil
			}
			if accs != nil {
				for i, acc := range accs {
					acc.add(r[offset+i])
				}
			}
			rows = append(rows, r)
		}
		if !send(batch{rows: rows, file: file, lines: lines}) {
			return
		}
	}
}

// cursor walks one side's stream, noting duplicate keys and refusing
// rows that come back out of key order.
type cursor struct {
	ch      <-chan batch
	buf     [][]val
	i       int
	prev    []val
	nkey    int
	classes []class
	role    string
	n       int64
	err     error
	// file and lines of buf (a csv side's); line is that of the last row
	// raw gave, 0 when not known.
	file  string
	lines []int
	line  int
}

func (c *cursor) raw() ([]val, error) {
	for c.i >= len(c.buf) {
		if c.err != nil {
			return nil, c.err
		}
		b, ok := <-c.ch
		if !ok {
			return nil, nil
		}
		// A batch cut short by an error delivers its rows, then the error.
		c.buf, c.i, c.err = b.rows, 0, b.err
		c.file, c.lines = b.file, b.lines
	}
	r := c.buf[c.i]
	if c.i < len(c.lines) {
		c.line = c.lines[c.i]
	}
	c.i++
	c.n++
	return r, nil
}

// next returns the next row whose key differs from the previous one; the
// repeats of a key are handed to dup.
func (c *cursor) next(dup func([]val)) ([]val, error) {
	for {
		r, err := c.raw()
		if err != nil || r == nil {
			return nil, err
		}
		if c.prev != nil {
			switch compareKey(c.classes, c.prev[:c.nkey], r[:c.nkey]) {
			case 0:
				dup(r)
				continue
			case 1:
				where := ""
				if c.file != "" && c.line > 0 {
					where = fmt.Sprintf(" (%s line %d)", c.file, c.line)
				}
				return nil, fmt.Errorf("the %s returned the key %s%s after %s: rows are not in key order (a collation, or a csv file not sorted by key)", c.role, keyText(r[:c.nkey]), where, keyText(c.prev[:c.nkey]))
			}
		}
		c.prev = r
		return r, nil
	}
}

func keyText(k []val) string {
	parts := make([]string, len(k))
	for i, v := range k {
		if v.null {
			parts[i] = "NULL"
		} else {
			parts[i] = v.s
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// compareRange merges both sides' rows of one range in a single pass.
func (tr *tableRun) compareRange(ctx context.Context, sq, tq rowQuery) (*rangeOut, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sch, tch := make(chan batch, 4), make(chan batch, 4)
	var wg sync.WaitGroup
	wg.Add(2)
	var sa, ta []*aggAcc
	if tr.aggs != nil {
		sa, ta = tr.newAccs(true), tr.newAccs(false)
	}
	nk := len(tr.p.keyPairs)
	go func() { defer wg.Done(); stream(ctx, tr.src, sq, sch, sa, nk) }()
	go func() { defer wg.Done(); stream(ctx, tr.tgt, tq, tch, ta, nk) }()
	defer func() {
		cancel()
		for range sch {
		}
		for range tch {
		}
		wg.Wait()
	}()
	sc := &cursor{ch: sch, nkey: nk, classes: tr.p.classes, role: "source"}
	tc := &cursor{ch: tch, nkey: nk, classes: tr.p.classes, role: "target"}
	out := &rangeOut{reasons: map[string]int64{}}
	if err := tr.walk(ctx, out, sc, tc); err != nil {
		return nil, err
	}
	out.srcRows, out.tgtRows = sc.n, tc.n
	if tr.aggs != nil {
		wg.Wait() // the streams have added their last values
		tr.aggsMu.Lock()
		for i := range sa {
			tr.aggs[0][i].merge(sa[i])
			tr.aggs[1][i].merge(ta[i])
		}
		tr.aggsMu.Unlock()
	}
	return out, nil
}

// walk steps through both sides' rows in key order at once, counting each
// key found on one side only and comparing the rows of a key on both.
func (tr *tableRun) walk(ctx context.Context, out *rangeOut, sc, tc *cursor) error {
	nk := len(tr.p.keyPairs)
	srcDup := func(r []val) { tr.duplicate(out, "source", r) }
	tgtDup := func(r []val) { tr.duplicate(out, "target", r) }
	s, err := sc.next(srcDup)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	t, err := tc.next(tgtDup)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	for s != nil || t != nil {
		var c int
		switch {
		case s == nil:
			c = 1
		case t == nil:
			c = -1
		default:
			c = compareKey(tr.p.classes, s[:nk], t[:nk])
		}
		switch {
		case c < 0:
			tr.missing(out, s)
		case c > 0:
			tr.extra(out, t)
		default:
			tr.compareRow(out, s, t)
		}
		if c <= 0 {
			if s, err = sc.next(srcDup); err != nil {
				return fmt.Errorf("source: %w", err)
			}
		}
		if c >= 0 {
			if t, err = tc.next(tgtDup); err != nil {
				return fmt.Errorf("target: %w", err)
			}
		}
		if out.compared&0xfff == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func (tr *tableRun) allPairs() []*pair { return append(slices.Clone(tr.p.keyPairs), tr.p.pairs...) }

func (tr *tableRun) keyStrings(r []val) []string {
	out := make([]string, len(tr.p.keyPairs))
	for i, kp := range tr.p.keyPairs {
		out[i] = tr.shown(kp.src, r[i])
	}
	return out
}

// shown is a value as the outputs show it, redacted: a secret held in
// bytes (shown in hex, which no redactor knows) is [REDACTED] whole.
func (tr *tableRun) shown(t *colType, v val) string {
	if !v.null && t.Class == cBytes && tr.red.String(v.s) != v.s {
		return step.Redacted
	}
	return tr.red.String(display(t, v))
}

func (tr *tableRun) keep(out *rangeOut, d result.RowDiff) {
	if len(out.diffs) < tr.maxDiffs {
		out.diffs = append(out.diffs, d)
	}
}

func (tr *tableRun) oneSide(r []val, source bool) []result.Cell {
	ps := tr.allPairs()
	cells := make([]result.Cell, len(ps))
	for i, p := range ps {
		c := result.Cell{Column: p.srcN + renamed(p.srcN, p.tgtN)}
		if source {
			c.Source, c.SourceNull, c.Absent = tr.shown(p.src, r[i]), r[i].null, "target"
		} else {
			c.Target, c.TargetNull, c.Absent = tr.shown(p.tgt, r[i]), r[i].null, "source"
		}
		cells[i] = c
	}
	return cells
}

func (tr *tableRun) missing(out *rangeOut, s []val) {
	out.missing++
	tr.keep(out, result.RowDiff{Kind: "missing", Key: tr.keyStrings(s), Cells: tr.oneSide(s, true)})
	tr.fix.insert(tr, s)
}

func (tr *tableRun) extra(out *rangeOut, t []val) {
	out.extra++
	tr.keep(out, result.RowDiff{Kind: "extra", Key: tr.keyStrings(t), Cells: tr.oneSide(t, false)})
	tr.fix.delete(tr, t)
}

func (tr *tableRun) duplicate(out *rangeOut, role string, r []val) {
	out.dup++
	if role == "source" {
		out.dupSrc++
	} else {
		out.dupTgt++
	}
	tr.keep(out, result.RowDiff{Kind: "duplicate", Side: role, Key: tr.keyStrings(r), Cells: tr.oneSide(r, role == "source")})
	tr.fix.duplicate(tr, role, r)
}

func (tr *tableRun) compareRow(out *rangeOut, s, t []val) {
	out.compared++
	nk := len(tr.p.keyPairs)
	var differing []int
	var reasons []string
	counted := false
	for i, p := range tr.p.pairs {
		d, why := p.differ(s[nk+i], t[nk+i])
		if !d {
			continue
		}
		if tr.ignore[why] {
			out.reasons[why+" (ignored)"]++
			continue
		}
		differing = append(differing, nk+i)
		reasons = append(reasons, why)
		out.reasons[why]++
		counted = true
	}
	if !counted {
		return
	}
	out.changed++
	if len(out.diffs) < tr.maxDiffs {
		ps := tr.allPairs()
		cells := make([]result.Cell, len(ps))
		for i, p := range ps {
			cells[i] = result.Cell{Column: p.srcN + renamed(p.srcN, p.tgtN),
				Source: tr.shown(p.src, s[i]), SourceNull: s[i].null,
				Target: tr.shown(p.tgt, t[i]), TargetNull: t[i].null}
			if j := slices.Index(differing, i); j >= 0 {
				cells[i].Differs, cells[i].Reason = true, reasons[j]
			}
		}
		out.diffs = append(out.diffs, result.RowDiff{Kind: "changed", Key: tr.keyStrings(s), Cells: cells})
	}
	tr.fix.update(tr, s, differing)
}
