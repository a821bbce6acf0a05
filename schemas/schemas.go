// Package schemas holds the JSON Schemas (draft 2020-12) of every document provgraph
// accepts, and the validator that gates every write.
package schemas

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"provgraph"
)

//go:embed json/*.json
var files embed.FS

const baseURL = "https://provgraph.local/schemas/"

// Set is the compiled schemas, by name.
type Set struct {
	raw      map[string][]byte
	compiled map[string]*jsonschema.Schema
}

var printer = message.NewPrinter(language.English)

// Load compiles every embedded schema. Formats (email, uri, date) are asserted.
func Load() (*Set, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noNetwork{})
	s := &Set{raw: map[string][]byte{}, compiled: map[string]*jsonschema.Schema{}}
	entries, err := fs.ReadDir(files, "json")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := files.ReadFile("json/" + e.Name())
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", e.Name(), err)
		}
		name := strings.TrimSuffix(e.Name(), path.Ext(e.Name()))
		if err := c.AddResource(baseURL+e.Name(), doc); err != nil {
			return nil, err
		}
		s.raw[name] = b
	}
	for name := range s.raw {
		sch, err := c.Compile(baseURL + name + ".json")
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		s.compiled[name] = sch
	}
	return s, nil
}

// Names lists the schema names.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.raw))
	for n := range s.raw {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Raw is the schema document as served.
func (s *Set) Raw(name string) ([]byte, bool) {
	b, ok := s.raw[name]
	return b, ok
}

// Validate checks a JSON document against the named schema and returns every
// violation with its JSON pointer; a document that is not JSON at all is one violation at
// the root. Duplicate keys are refused: what the graph stores must be what was checked.
func (s *Set) Validate(name string, doc []byte) []provgraph.FieldError {
	_, errs := s.Decode(name, doc)
	return errs
}

// Decode checks doc against the named schema and answers it decoded (numbers as
// json.Number), so that the caller need not parse it again, or every failure.
func (s *Set) Decode(name string, doc []byte) (map[string]any, []provgraph.FieldError) {
	sch, ok := s.compiled[name]
	if !ok {
		return nil, []provgraph.FieldError{{Path: "", Message: "no schema named " + name}}
	}
	if bad := CheckText(doc); len(bad) > 0 {
		return nil, bad
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, []provgraph.FieldError{{Path: "", Message: "body is not valid JSON: " + err.Error()}}
	}
	if ptr, dup := DuplicateKey(doc); dup {
		return nil, []provgraph.FieldError{{Path: ptr, Message: "key appears more than once"}}
	}
	if err = sch.Validate(inst); err == nil {
		if obj, ok := inst.(map[string]any); ok {
			return obj, nil
		}
		return nil, []provgraph.FieldError{{Path: "", Message: "must be a JSON object"}}
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil, []provgraph.FieldError{{Path: "", Message: err.Error()}}
	}
	var out []provgraph.FieldError
	leaves(ve, &out)
	slices.SortStableFunc(out, func(a, b provgraph.FieldError) int { return strings.Compare(a.Path, b.Path) })
	return nil, slices.Compact(out)
}

// leaves flattens the error tree to its most specific causes, with pointers to the very
// field: a missing or unknown property is reported at its own path, not its parent's.
func leaves(ve *jsonschema.ValidationError, out *[]provgraph.FieldError) {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			leaves(c, out)
		}
		return
	}
	at := pointer(ve.InstanceLocation)
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, provgraph.FieldError{Path: at + "/" + escape(m), Message: "is required"})
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			*out = append(*out, provgraph.FieldError{Path: at + "/" + escape(p), Message: "is not a known field"})
		}
	default:
		*out = append(*out, provgraph.FieldError{Path: at, Message: ve.ErrorKind.LocalizedString(printer)})
	}
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escape(t))
	}
	return b.String()
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// DuplicateKey finds the first object key given twice, which encoding/json would silently
// resolve to the last value, and returns its JSON pointer. jsontext's decoder refuses
// duplicate names by default and says where, without building anything.
func DuplicateKey(doc []byte) (string, bool) {
	d := jsontext.NewDecoder(bytes.NewReader(asDecoded(doc)), jsontext.AllowInvalidUTF8(true))
	_, err := d.ReadValue()
	var se *jsontext.SyntacticError
	if errors.As(err, &se) && errors.Is(se.Err, jsontext.ErrDuplicateName) {
		return string(se.JSONPointer), true
	}
	return "", false
}

// asDecoded replaces each byte that is not UTF-8 with U+FFFD, as encoding/json does when
// it decodes: keys that differ only there are the same key to it.
func asDecoded(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}

// noNetwork refuses every remote schema: all our schemas are embedded.
type noNetwork struct{}

func (noNetwork) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not embedded; provgraph never fetches schemas", url)
}
