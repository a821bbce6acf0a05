package prov

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
)

// jsonTerm is one term of the embedded JSON-LD context: its IRI and the
// coercion of its values ("@id", a datatype IRI, or "" for plain strings).
type jsonTerm struct {
	name, iri, coerce string
}

var jsonTerms = func() []jsonTerm {
	t := []jsonTerm{
		{"label", NSRDFS + "label", ""},
		{"version", NS + "version", xsdInt},
	}
	for _, p := range []string{"startedAtTime", "endedAtTime", "generatedAtTime", "invalidatedAtTime", "atTime"} {
		t = append(t, jsonTerm{p, NSProv + p, xsdDate})
	}
	ids := []string{"entity", "activity", "agent", "influencer", "hadRole", "hadPlan", "hadActivity"}
	for _, s := range relSpecs {
		ids = append(ids, string(s.typ))
		if s.qualProp != "" {
			ids = append(ids, s.qualProp)
		}
	}
	for _, p := range ids {
		t = append(t, jsonTerm{p, NSProv + p, "@id"})
	}
	return t
}()

var termByIRI = func() map[string]jsonTerm {
	m := make(map[string]jsonTerm, len(jsonTerms))
	for _, t := range jsonTerms {
		m[t.iri] = t
	}
	return m
}()

// Context returns the JSON-LD context document ({"@context": {…}}) the JSON-LD
// encoder embeds in every document. It can also be served as is, for clients that
// want to write provgraph JSON-LD themselves; the encoder never refers to it by
// URL, so no processor ever fetches it. The prefix "id" is bound to base.
func Context(base string) []byte {
	var b bytes.Buffer
	b.WriteString("{\n  \"@context\": ")
	b.Write(contextObject(base, "  "))
	b.WriteString("\n}\n")
	return b.Bytes()
}

// contextObject writes the context's inner object, indented by indent.
func contextObject(base, indent string) []byte {
	var obj orderedObject
	for _, p := range prefixes {
		obj = append(obj, kv{p.name, p.ns})
	}
	obj = append(obj, kv{"id", base})
	for _, t := range jsonTerms {
		def := orderedObject{{"@id", compact(t.iri)}}
		if t.coerce != "" {
			c := t.coerce
			if cc := compact(c); cc != "" {
				c = cc
			}
			def = append(def, kv{"@type", c})
		}
		if t.coerce == "" {
			obj = append(obj, kv{t.name, compact(t.iri)})
		} else {
			obj = append(obj, kv{t.name, def})
		}
	}
	return indentJSON(marshal(obj), indent)
}

// NewJSONLD returns an encoder writing JSON-LD: one object with the embedded
// context and an "@graph" array of node objects in flattened form (every IRI
// absolute, qualified nodes as their own objects). Each Encode call appends its
// chunk's node objects, sorted; a subject that occurs in several chunks gets one
// node object per chunk, which JSON-LD processors merge.
func NewJSONLD(w io.Writer, base string) Encoder {
	return &jsonldEncoder{w: stickyWriter{w: w}, base: base}
}

type jsonldEncoder struct {
	w       stickyWriter
	base    string
	started bool // header written
	any     bool // at least one node object written
	closed  bool
}

func (e *jsonldEncoder) header(b *bytes.Buffer) {
	if e.started {
		return
	}
	e.started = true
	b.WriteString("{\n  \"@context\": ")
	b.Write(contextObject(e.base, "  "))
	b.WriteString(",\n  \"@graph\": [")
}

func (e *jsonldEncoder) Encode(doc *Document) error {
	if err := ready(e.closed, e.w.err, e.base, doc); err != nil {
		return err
	}
	var b bytes.Buffer
	e.header(&b)
	for _, s := range buildGraph(doc, e.base) {
		if e.any {
			b.WriteByte(',')
		}
		e.any = true
		b.WriteString("\n    ")
		b.Write(indentJSON(marshal(jsonldNode(&s)), "    "))
	}
	e.w.write(b.Bytes())
	return e.w.err
}

func (e *jsonldEncoder) Close() error {
	if e.closed {
		return e.w.err
	}
	e.closed = true
	if e.w.err != nil {
		return e.w.err
	}
	if err := checkBase(e.base); err != nil {
		return err
	}
	var b bytes.Buffer
	e.header(&b)
	if e.any {
		b.WriteString("\n  ")
	}
	b.WriteString("]\n}\n")
	e.w.write(b.Bytes())
	return e.w.err
}

// jsonldNode writes a subject as a node object. A predicate whose objects all
// fit its context term's coercion uses the term and bare values; any other
// predicate uses its compact or full IRI and explicit value objects.
func jsonldNode(s *subject) orderedObject {
	obj := orderedObject{{"@id", s.iri}}
	if len(s.types) > 0 {
		types := make([]any, len(s.types))
		for i, t := range s.types {
			types[i] = compactOrFull(t)
		}
		obj = append(obj, kv{"@type", oneOrMany(types)})
	}
	for _, po := range s.props {
		vals := make([]any, len(po.objs))
		term, ok := termByIRI[po.pred]
		for _, o := range po.objs {
			if !fits(term, o) {
				ok = false
			}
		}
		if ok {
			for i, o := range po.objs {
				vals[i] = o.value
				if term.coerce == xsdInt {
					// A JSON number where every processor reads it exactly
					// (json-gold and JavaScript hold numbers as float64).
					n, err := strconv.ParseInt(o.value, 10, 64)
					if err == nil && -1<<53 <= n && n <= 1<<53 {
						vals[i] = n
					}
				}
			}
			obj = append(obj, kv{term.name, oneOrMany(vals)})
			continue
		}
		for i, o := range po.objs {
			switch {
			case !o.lit:
				vals[i] = orderedObject{{"@id", o.value}}
			case o.dt == "":
				vals[i] = o.value
			default:
				vals[i] = orderedObject{{"@value", o.value}, {"@type", compactOrFull(o.dt)}}
			}
		}
		obj = append(obj, kv{compactOrFull(po.pred), oneOrMany(vals)})
	}
	return obj
}

func fits(t jsonTerm, o object) bool {
	switch t.coerce {
	case "@id":
		return !o.lit
	case "":
		return o.lit && o.dt == ""
	}
	return o.lit && o.dt == t.coerce
}

func compactOrFull(iri string) string {
	if c := compact(iri); c != "" {
		return c
	}
	return iri
}

func oneOrMany(v []any) any {
	if len(v) == 1 {
		return v[0]
	}
	return v
}

// kv and orderedObject write JSON objects with their keys in a fixed order.
type kv struct {
	k string
	v any
}

type orderedObject []kv

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	appendJSON(&b, o)
	return b.Bytes(), nil
}

// marshal encodes v without HTML escaping. Values here are strings, numbers and
// orderedObjects, which cannot fail.
func marshal(v any) []byte {
	var b bytes.Buffer
	appendJSON(&b, v)
	return b.Bytes()
}

// appendJSON writes v as compact JSON, as encoding/json would without HTML escaping. It
// walks orderedObjects and lists itself and writes plain strings directly: encoding a
// PROV document is on every registration's path, and json.Marshaler results are
// re-scanned by encoding/json.
func appendJSON(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case orderedObject:
		b.WriteByte('{')
		for i, p := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			appendJSON(b, p.k)
			b.WriteByte(':')
			appendJSON(b, p.v)
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			appendJSON(b, e)
		}
		b.WriteByte(']')
	case string:
		if plainJSONString(x) {
			b.WriteByte('"')
			b.WriteString(x)
			b.WriteByte('"')
			return
		}
		appendEncoded(b, x)
	default:
		appendEncoded(b, x)
	}
}

// plainJSONString says whether s needs no escaping: printable ASCII without quote or
// backslash.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func appendEncoded(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("prov: " + err.Error())
	}
	b.Truncate(b.Len() - 1) // Encode ends with a newline
}

func indentJSON(src []byte, prefix string) []byte {
	var b bytes.Buffer
	if err := json.Indent(&b, src, prefix, "  "); err != nil {
		panic("prov: " + err.Error())
	}
	return b.Bytes()
}
