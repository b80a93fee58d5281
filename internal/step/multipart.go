package step

import (
	"bytes"
	"fmt"
	"mime"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Multipart is an http block's multipart block: form fields and files sent
// as multipart/form-data, in the order written.
type Multipart struct {
	Parts     []*Part
	DeclRange hcl.Range
}

// Part is one field "NAME" { value = … } or file "NAME" { … } of a
// multipart block. A file's content is read from path (relative to the
// configuration's directory) or given as content.
type Part struct {
	Name                               string
	File                               bool
	Value, Path, Filename, ContentType hcl.Expression
	DeclRange                          hcl.Range
}

var multipartSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "field", LabelNames: []string{"name"}}, {Type: "file", LabelNames: []string{"name"}},
}}

var fieldSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "value", Required: true}}}

var fileSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "path"}, {Name: "content"}, {Name: "filename"}, {Name: "content_type"},
}}

func decodeMultipart(b *hcl.Block, dc *config.DecodeContext, r roots) (*Multipart, hcl.Diagnostics) {
	content, diags := b.Body.Content(multipartSchema)
	m := &Multipart{DeclRange: b.DefRange}
	for _, pb := range content.Blocks {
		p := &Part{Name: pb.Labels[0], File: pb.Type == "file", DeclRange: pb.DefRange}
		if !p.File {
			c, d := pb.Body.Content(fieldSchema)
			diags = append(diags, d...)
			p.Value = lateAttrs(c, dc, r.request, &diags)("value")
			m.Parts = append(m.Parts, p)
			continue
		}
		c, d := pb.Body.Content(fileSchema)
		diags = append(diags, d...)
		late := lateAttrs(c, dc, r.request, &diags)
		p.Path, p.Value, p.Filename, p.ContentType = late("path"), late("content"), late("filename"), late("content_type")
		switch {
		case (p.Path == nil) == (p.Value == nil):
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "A file needs path or content",
				Detail:  fmt.Sprintf("multipart file %q takes exactly one of path (a file, relative to the configuration's directory) and content (the bytes as a string).", p.Name),
				Subject: pb.DefRange.Ptr()})
		case p.Path != nil:
			if lit := literal(p.Path); lit != nil {
				if _, err := os.Stat(resolve(dc.Config().Dir, *lit)); err != nil {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "File not found",
						Detail:  fmt.Sprintf("multipart file %q: %s cannot be read: %v.", p.Name, *lit, unwrapPath(err)),
						Subject: p.Path.Range().Ptr()})
				}
			}
		}
		m.Parts = append(m.Parts, p)
	}
	if len(m.Parts) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty multipart block",
			Detail: "A multipart block needs at least one field \"NAME\" { value = … } or file \"NAME\" { path = … } block.", Subject: b.DefRange.Ptr()})
	}
	return m, diags
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

// exprs are the expressions of the block, for the checks that look at what
// a request refers to.
func (m *Multipart) exprs() []hcl.Expression {
	var out []hcl.Expression
	for _, p := range m.Parts {
		for _, e := range []hcl.Expression{p.Value, p.Path, p.Filename, p.ContentType} {
			if e != nil {
				out = append(out, e)
			}
		}
	}
	return out
}

// quoteEscaper escapes a name for a Content-Disposition header, as
// mime/multipart does.
var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"")

// encode builds the body and its Content-Type.
func (m *Multipart) encode(env *Env, ectx *hcl.EvalContext) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range m.Parts {
		what := fmt.Sprintf("multipart %s %q", map[bool]string{true: "file", false: "field"}[p.File], p.Name)
		if !p.File {
			v, err := evalString(p.Value, ectx, what+" value")
			if err != nil {
				return nil, "", err
			}
			if err := w.WriteField(p.Name, v); err != nil {
				return nil, "", err
			}
			continue
		}
		if err := p.writeFile(w, env, ectx, what); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// writeFile writes the file part p to w: its content (from its path or
// its value), its filename and its Content-Type (from the filename's
// extension unless p gives one). what names the part in errors.
func (p *Part) writeFile(w *multipart.Writer, env *Env, ectx *hcl.EvalContext, what string) error {
	var data []byte
	filename := p.Name
	if p.Path != nil {
		path, err := evalString(p.Path, ectx, what+" path")
		if err != nil {
			return err
		}
		if data, err = os.ReadFile(resolve(env.Config.Dir, path)); err != nil {
			return fmt.Errorf("%s: reading %s: %v", what, path, unwrapPath(err))
		}
		filename = filepath.Base(path)
	} else {
		s, err := evalString(p.Value, ectx, what+" content")
		if err != nil {
			return err
		}
		data = []byte(s)
	}
	if p.Filename != nil {
		f, err := evalString(p.Filename, ectx, what+" filename")
		if err != nil {
			return err
		}
		filename = f
	}
	ct := mime.TypeByExtension(filepath.Ext(filename))
	if ct == "" {
		ct = "application/octet-stream"
	}
	if p.ContentType != nil {
		c, err := evalString(p.ContentType, ectx, what+" content_type")
		if err != nil {
			return err
		}
		ct = c
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, quoteEscaper.Replace(p.Name), quoteEscaper.Replace(filename)))
	h.Set("Content-Type", ct)
	pw, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	_, err = pw.Write(data)
	return err
}
