package prov

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultSpoolMemory is how many bytes of encoded records NewPROVJSON keeps in
// memory before it spills them to temporary files.
const DefaultSpoolMemory = 8 << 20

// NewPROVJSON returns an encoder writing PROV-JSON (W3C member submission, 2013).
//
// PROV-JSON groups records by type in one JSON object ("entity", "activity",
// "used", …), so a streamed document cannot be written chunk by chunk. The
// encoder encodes each Encode call at once, sorted, into one spool per section,
// and writes the whole document at Close. Spools stay in memory up to
// DefaultSpoolMemory bytes in all, then move to temporary files in os.TempDir, so
// exporting a whole graph runs in flat memory; Close removes the files. Use
// NewPROVJSONSpool to choose the limit and the directory.
//
// Identifiers are qualified names "id:" + EscapeID(id), with the prefix "id"
// bound to base, so they stand for the same IRIs as in Turtle and JSON-LD.
// Relations are keyed by blank identifiers "_:r1", "_:r2", … numbered in output
// order. An entity's GeneratedAt and InvalidatedAt, which PROV-JSON has no
// entity attribute for, become an activity-less wasGeneratedBy or
// wasInvalidatedBy at that time (what PROV-O's generatedAtTime abbreviates),
// unless the same Encode call has a relation of that type from the entity at that
// very time. WasRevisionOf is a wasDerivedFrom typed prov:Revision.
// Qualified-name values (types, roles) are typed xsd:QName, the submission's
// type, which python prov 3 writes and reads (it also reads the older
// prov:QUALIFIED_NAME).
//
// A node id must be encoded at most once per stream: a record repeated within one
// Encode call is written as the submission's array of instances, but one
// repeated across calls would repeat a JSON key.
func NewPROVJSON(w io.Writer, base string) Encoder {
	return NewPROVJSONSpool(w, base, "", DefaultSpoolMemory)
}

// NewPROVJSONSpool is NewPROVJSON with the in-memory limit (bytes) and the
// directory for temporary files ("" = os.TempDir()).
func NewPROVJSONSpool(w io.Writer, base, dir string, memLimit int) Encoder {
	e := &provjsonEncoder{w: stickyWriter{w: w}, base: base, dir: dir, limit: memLimit}
	for _, s := range provjsonSections {
		e.spools = append(e.spools, &spool{name: s})
	}
	return e
}

// provjsonSections is the output order of the document's sections.
var provjsonSections = func() []string {
	s := []string{"entity", "activity", "agent"}
	seen := map[string]bool{}
	for _, r := range relSpecs {
		if !seen[r.jsonSection] {
			seen[r.jsonSection] = true
			s = append(s, r.jsonSection)
		}
	}
	return s
}()

func sectionIndex(name string) int {
	for i, s := range provjsonSections {
		if s == name {
			return i
		}
	}
	panic("prov: unknown PROV-JSON section " + name)
}

type provjsonEncoder struct {
	w      stickyWriter
	base   string
	dir    string
	limit  int
	spools []*spool
	nrel   int // relations numbered so far
	closed bool
	err    error // sticky spool error
}

// spool holds one section's records: "key": value pairs joined by ",\n    ".
type spool struct {
	name string
	n    int // records written
	mem  bytes.Buffer
	file *os.File
}

func (s *spool) size() int { return s.mem.Len() }

func (e *provjsonEncoder) Encode(doc *Document) error {
	if err := ready(e.closed, e.err, e.base, doc); err != nil {
		return err
	}
	// Nodes, grouped by section and id, sorted by id.
	type nodeGroup struct {
		key   string
		nodes []*Node
	}
	groups := map[string]map[string]*nodeGroup{}
	var rels []Relation
	timed := map[string]bool{}
	for i := range doc.Relations {
		if r := &doc.Relations[i]; r.Time != nil {
			timed[timedKey(r.Type, r.From, *r.Time)] = true
		}
	}
	for i := range doc.Nodes {
		n := &doc.Nodes[i]
		sec := strings.ToLower(string(n.Class)) // "entity", "activity", "agent"
		key := e.qname(n.ID)
		if groups[sec] == nil {
			groups[sec] = map[string]*nodeGroup{}
		}
		g := groups[sec][key]
		if g == nil {
			g = &nodeGroup{key: key}
			groups[sec][key] = g
		}
		g.nodes = append(g.nodes, n)
		if n.GeneratedAt != nil && !timed[timedKey(WasGeneratedBy, n.ID, *n.GeneratedAt)] {
			rels = append(rels, Relation{Type: WasGeneratedBy, From: n.ID, Time: n.GeneratedAt})
		}
		if n.InvalidatedAt != nil && !timed[timedKey(WasInvalidatedBy, n.ID, *n.InvalidatedAt)] {
			rels = append(rels, Relation{Type: WasInvalidatedBy, From: n.ID, Time: n.InvalidatedAt})
		}
	}
	for _, sec := range []string{"entity", "activity", "agent"} {
		keys := make([]string, 0, len(groups[sec]))
		for k := range groups[sec] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		sp := e.spools[sectionIndex(sec)]
		for _, k := range keys {
			g := groups[sec][k]
			var v any
			if len(g.nodes) == 1 {
				v = e.nodeJSON(g.nodes[0])
			} else {
				arr := make([]any, len(g.nodes))
				for i, n := range g.nodes {
					arr[i] = e.nodeJSON(n)
				}
				v = arr
			}
			e.put(sp, k, v)
		}
	}
	// Relations, sorted by section then content, numbered in that order.
	rels = append(rels, doc.Relations...)
	type sortedRel struct {
		r       *Relation
		spec    *relSpec
		section int
		key     string
	}
	sorted := make([]sortedRel, len(rels))
	for i := range rels {
		spec, _ := specOf(rels[i].Type)
		sorted[i] = sortedRel{&rels[i], spec, sectionIndex(spec.jsonSection), relKey(&rels[i])}
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].section != sorted[j].section {
			return sorted[i].section < sorted[j].section
		}
		return sorted[i].key < sorted[j].key
	})
	for _, s := range sorted {
		e.nrel++
		e.put(e.spools[s.section], "_:r"+strconv.Itoa(e.nrel), e.relationJSON(s.spec, s.r))
	}
	if e.err == nil {
		e.spill()
	}
	return e.err
}

// timedKey identifies a relation of type t from id at time at, which already
// says what an entity's GeneratedAt or InvalidatedAt says.
func timedKey(t RelType, id string, at time.Time) string {
	return string(t) + "\x00" + id + "\x00" + formatTime(at)
}

func relKey(r *Relation) string {
	t := ""
	if r.Time != nil {
		t = formatTime(*r.Time)
	}
	return fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s\x00%s", r.From, r.To, r.Type, r.Role, r.Plan, t)
}

func (e *provjsonEncoder) qname(id string) string { return "id:" + EscapeID(id) }

// qnameValue writes a qualified name as an attribute value.
func qnameValue(q string) orderedObject {
	return orderedObject{{"$", q}, {"type", "xsd:QName"}}
}

func (e *provjsonEncoder) nodeJSON(n *Node) orderedObject {
	var obj orderedObject
	var types []any
	if n.Kind != "" {
		types = append(types, qnameValue("pg:"+n.Kind))
	}
	ts := append([]string(nil), n.Types...)
	sort.Strings(ts)
	for _, t := range ts {
		types = append(types, qnameValue(t)) // validated: prov:Name or pg:Name
	}
	if len(types) > 0 {
		obj = append(obj, kv{"prov:type", oneOrMany(types)})
	}
	if n.Label != "" {
		obj = append(obj, kv{"prov:label", n.Label})
	}
	if n.Version > 0 {
		obj = append(obj, kv{"pg:version", orderedObject{{"$", strconv.Itoa(n.Version)}, {"type", "xsd:integer"}}})
	}
	if n.StartedAt != nil {
		obj = append(obj, kv{"prov:startTime", formatTime(*n.StartedAt)})
	}
	if n.EndedAt != nil {
		obj = append(obj, kv{"prov:endTime", formatTime(*n.EndedAt)})
	}
	keys := make([]string, 0, len(n.Attrs))
	for k := range n.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		obj = append(obj, kv{"pg:" + EscapeID(k), n.Attrs[k]})
	}
	return obj
}

func (e *provjsonEncoder) relationJSON(spec *relSpec, r *Relation) orderedObject {
	obj := orderedObject{{spec.jsonFrom, e.qname(r.From)}}
	if r.To != "" {
		obj = append(obj, kv{spec.jsonTo, e.qname(r.To)})
	}
	if r.Plan != "" {
		obj = append(obj, kv{"prov:plan", e.qname(r.Plan)})
	}
	if r.Time != nil {
		obj = append(obj, kv{"prov:time", formatTime(*r.Time)})
	}
	if r.Role != "" {
		role := "pg:role/" + EscapeID(r.Role) // NS + "role/" + …, as RoleIRI
		if RoleIsRecord(r.Role) {
			role = e.qname(r.Role)
		}
		obj = append(obj, kv{"prov:role", qnameValue(role)})
	}
	if r.Type == WasRevisionOf {
		obj = append(obj, kv{"prov:type", qnameValue("prov:Revision")})
	}
	return obj
}

// put appends one "key": value record to a spool's memory; spill moves it on.
func (e *provjsonEncoder) put(s *spool, key string, v any) {
	if e.err != nil {
		return
	}
	if s.n > 0 {
		s.mem.WriteString(",\n    ")
	}
	s.n++
	appendJSON(&s.mem, key)
	s.mem.WriteString(": ")
	appendJSON(&s.mem, v)
}

// spill moves every in-memory spool to a temporary file once together they
// exceed the limit.
func (e *provjsonEncoder) spill() {
	total := 0
	for _, s := range e.spools {
		total += s.size()
	}
	if total <= e.limit {
		return
	}
	for _, s := range e.spools {
		if s.size() == 0 {
			continue
		}
		if s.file == nil {
			f, err := os.CreateTemp(e.dir, "provjson-"+s.name+"-*")
			if err != nil {
				e.err = fmt.Errorf("prov: spooling PROV-JSON: %w", err)
				return
			}
			s.file = f
		}
		if _, err := s.file.Write(s.mem.Bytes()); err != nil {
			e.err = fmt.Errorf("prov: spooling PROV-JSON: %w", err)
			return
		}
		s.mem = bytes.Buffer{}
	}
}

func (e *provjsonEncoder) Close() error {
	if e.closed {
		return e.err
	}
	e.closed = true
	defer e.removeSpools()
	if e.err != nil {
		return e.err
	}
	if err := checkBase(e.base); err != nil {
		e.err = err
		return err
	}
	var head bytes.Buffer
	head.WriteString("{\n  \"prefix\": ")
	prefix := orderedObject{{"id", e.base}, {"pg", NS}, {"prov", NSProv}, {"xsd", NSXSD}}
	head.Write(indentJSON(marshal(prefix), "  "))
	e.w.write(head.Bytes())
	for _, s := range e.spools {
		if s.n == 0 {
			continue
		}
		e.w.write([]byte(",\n  " + string(marshal(s.name)) + ": {\n    "))
		if s.file != nil {
			if _, err := s.file.Seek(0, io.SeekStart); err != nil {
				e.err = fmt.Errorf("prov: spooling PROV-JSON: %w", err)
				return e.err
			}
			if e.w.err == nil {
				if _, err := io.Copy(e.w.w, s.file); err != nil {
					e.w.err = err
				}
			}
		}
		e.w.write(s.mem.Bytes())
		e.w.write([]byte("\n  }"))
	}
	e.w.write([]byte("\n}\n"))
	e.err = e.w.err
	return e.err
}

func (e *provjsonEncoder) removeSpools() {
	for _, s := range e.spools {
		if s.file != nil {
			s.file.Close()
			os.Remove(s.file.Name())
			s.file = nil
		}
		s.mem = bytes.Buffer{}
	}
}
