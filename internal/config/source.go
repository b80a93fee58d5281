package config

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Limits on what the loader hands to HCL's parser. The parser is recursive
// (a 61,000-deep "[" overflows its stack and kills the process) and its
// diagnostics are printed by scanning the whole file once each, so a large
// file of junk costs minutes (4 MiB of random brackets: 9 s and 900 MB to
// parse, 160,000 errors, 2.7 s to print each). Real suites are far below
// both limits: the examples nest at most 7 deep and their largest file is
// 12 KB; data belongs in a feed or in file().
const (
	// MaxSourceBytes is the largest .hcl (or -var-file) file the loader reads.
	MaxSourceBytes = 1 << 20
	// MaxNesting is the deepest nesting of brackets, braces, parentheses and
	// template interpolations the loader accepts.
	MaxNesting = 128
	// MaxReadBytes is the largest file file() reads into an expression.
	MaxReadBytes = 16 << 20
	// maxFileDiags is how many parse errors of one file are kept: past the
	// first few, the rest follow from them. Printing one scans the file from
	// its start, so a large file keeps fewer: diagScanBudget bytes in all.
	maxFileDiags   = 20
	diagScanBudget = 4 << 20
)

// ErrNotRegular is returned by ReadRegular for a directory, a device, a FIFO
// or a socket: reading one can block for ever or never end.
var ErrNotRegular = errors.New("not a regular file")

// ReadRegular reads a regular file of at most max bytes. A FIFO, a device
// (/dev/zero) or anything else that is not a regular file is refused before
// it is opened, so that reading cannot hang or exhaust memory.
func ReadRegular(path string, max int64) ([]byte, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %s, the most cloudtest reads", path, byteSize(max))
	}
	return b, nil
}

// FileDigest is the hex SHA-256 of a regular file, read in a stream that
// stops when ctx is done: the digest of a piece of evidence, of a file of
// the signed bundle, of what an image is built from.
func FileDigest(ctx context.Context, path string) (string, error) {
	h := sha256.New()
	if err := HashFile(ctx, path, h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// HashFile streams a regular file into the hashes, stopping when ctx is done.
func HashFile(ctx context.Context, path string, hs ...hash.Hash) error {
	f, err := OpenRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := make([]io.Writer, len(hs))
	for i, h := range hs {
		w[i] = h
	}
	_, err = io.Copy(io.MultiWriter(w...), ContextReader(ctx, f))
	return err
}

// ContextReader reads r until ctx is done (SIGTERM during a digest or a
// copy stops it at the next read).
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// OpenRegular opens a regular file for reading and refuses anything else
// (checked before opening, because opening a FIFO blocks until a writer
// comes, and again on the open file, in case it was swapped meanwhile).
func OpenRegular(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, modeName(st.Mode()))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err = f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s: %w", path, ErrNotRegular)
		}
		return nil, err
	}
	return f, nil
}

func modeName(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	}
	return "a special file"
}

func byteSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// parseSource reads and parses one HCL file after checking its size and its
// nesting; a file refused is reported with its name (and the line where the
// nesting goes too deep) and not parsed at all.
func parseSource(parser *hclparse.Parser, path string) (*hcl.File, hcl.Diagnostics) {
	src, err := ReadRegular(path, MaxSourceBytes)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read suite file",
			Detail:  fmt.Sprintf("%v.", err),
			Subject: &hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos}}}
	}
	if d := checkNesting(src, path, MaxNesting); d != nil {
		return nil, hcl.Diagnostics{d}
	}
	file, diags := parser.ParseHCL(src, path)
	keep := min(maxFileDiags, max(1, diagScanBudget/max(1, len(src))))
	if n := len(diags); n > keep {
		diags = append(diags[:keep:keep], &hcl.Diagnostic{Severity: hcl.DiagError,
			Summary: "Too many errors",
			Detail:  fmt.Sprintf("%s has %d more syntax errors; fix the ones above first.", path, n-keep)})
	}
	return file, diags
}

// checkNesting scans src for brackets, braces, parentheses and template
// interpolations ("${", "%{") deeper than max, skipping what is inside
// quoted strings, heredocs and comments. It is one pass over the bytes and
// needs to be right only about depth: anything else malformed is left to
// the parser.
func checkNesting(src []byte, filename string, max int) *hcl.Diagnostic {
	n := &nestScan{src: src}
	for i := 0; i < len(src); i++ {
		i = n.step(i)
		if n.depth > max {
			line := 1 + bytes.Count(src[:i], []byte("\n"))
			col := i - (bytes.LastIndexByte(src[:i], '\n') + 1) + 1
			return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Nesting too deep",
				Detail: fmt.Sprintf("Brackets, braces, parentheses and interpolations are nested more than %d deep here. "+
					"cloudtest refuses such a file rather than risk exhausting the parser; flatten the value or read it from a file with file() and jsondecode().", max),
				Subject: &hcl.Range{Filename: filename, Start: hcl.Pos{Line: line, Column: col, Byte: i},
					End: hcl.Pos{Line: line, Column: col + 1, Byte: i + 1}}}
		}
	}
	return nil
}

// nestScan follows the nesting of an HCL source byte by byte: what it is
// inside (an expression's brackets, a string, a heredoc) and how deep.
type nestScan struct {
	src   []byte
	stack []nestFrame
	depth int
}

type nestFrame struct {
	kind byte   // '(' '[' '{' an expression, '"' a string, '<' a heredoc
	term []byte // a heredoc's terminator
}

func (n *nestScan) top() byte {
	if len(n.stack) == 0 {
		return 0
	}
	return n.stack[len(n.stack)-1].kind
}

func (n *nestScan) pop() { n.stack = n.stack[:len(n.stack)-1] }

// interpolation says whether ${ or %{ (not $${ or %%{) starts at i.
func (n *nestScan) interpolation(i int) bool {
	c := n.src[i]
	return (c == '$' || c == '%') && i+1 < len(n.src) && n.src[i+1] == '{' && (i == 0 || n.src[i-1] != c)
}

// open enters an interpolation at i.
func (n *nestScan) open(i int) int {
	n.stack = append(n.stack, nestFrame{kind: '{'})
	n.depth++
	return i + 1
}

// step reads the byte at i and returns the index of the last byte it read.
func (n *nestScan) step(i int) int {
	src := n.src
	switch c := src[i]; n.top() {
	case '"':
		switch {
		case c == '\\':
			i++
		case c == '"' || c == '\n': // a newline ends an unterminated string; the parser says so
			n.pop()
		case n.interpolation(i):
			i = n.open(i)
		}
	case '<':
		if i == 0 || src[i-1] == '\n' {
			if end, ok := heredocEnd(src, i, n.stack[len(n.stack)-1].term); ok {
				n.pop()
				return end - 1
			}
		}
		if n.interpolation(i) {
			i = n.open(i)
		}
	default:
		i = n.code(i)
	}
	return i
}

// code reads the byte at i of an expression (or of the file's body).
func (n *nestScan) code(i int) int {
	src := n.src
	switch c := src[i]; {
	case c == '#' || c == '/' && i+1 < len(src) && src[i+1] == '/':
		for i+1 < len(src) && src[i+1] != '\n' {
			i++
		}
	case c == '/' && i+1 < len(src) && src[i+1] == '*':
		i += 2
		for i+1 < len(src) && (src[i] != '*' || src[i+1] != '/') {
			i++
		}
		i++
	case c == '"':
		n.stack = append(n.stack, nestFrame{kind: '"'})
	case c == '<' && i+2 < len(src) && src[i+1] == '<':
		j := i + 2
		if src[j] == '-' {
			j++
		}
		k := j
		for k < len(src) && isIdentByte(src[k]) {
			k++
		}
		if k > j && (k == len(src) || src[k] == '\n' || src[k] == '\r') {
			n.stack = append(n.stack, nestFrame{kind: '<', term: src[j:k]})
			i = k - 1
		}
	case c == '(' || c == '[' || c == '{':
		n.stack = append(n.stack, nestFrame{kind: c})
		n.depth++
	case c == ')' || c == ']' || c == '}':
		if k := n.top(); k == '(' || k == '[' || k == '{' {
			n.pop()
			n.depth--
		}
	}
	return i
}

// heredocEnd reports whether the line starting at i is the heredoc's
// terminator (indented or not) and where that line's text ends.
func heredocEnd(src []byte, i int, term []byte) (int, bool) {
	j := i
	for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
		j++
	}
	if !bytes.HasPrefix(src[j:], term) {
		return 0, false
	}
	k := j + len(term)
	for k < len(src) && (src[k] == ' ' || src[k] == '\t' || src[k] == '\r') {
		k++
	}
	return k, k == len(src) || src[k] == '\n'
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
