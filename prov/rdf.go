package prov

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The RDF graph of one chunk, shared by the Turtle and JSON-LD writers so that
// both describe the same triples.

const (
	rdfType = NSRDF + "type"
	xsdInt  = NSXSD + "integer"
	xsdDate = NSXSD + "dateTime"
)

// object is an IRI (lit false) or a literal with a datatype ("" = xsd:string).
type object struct {
	value string
	dt    string
	lit   bool
}

func iriObj(iri string) object       { return object{value: iri} }
func strObj(s string) object         { return object{value: validUTF8(s), lit: true} }
func typedObj(lex, dt string) object { return object{value: lex, dt: dt, lit: true} }

// validUTF8 replaces each invalid byte with U+FFFD, as encoding/json and a
// range loop do, so that every format carries the same string.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string([]rune(s))
}

func (o object) less(p object) bool {
	if o.lit != p.lit {
		return !o.lit
	}
	if o.value != p.value {
		return o.value < p.value
	}
	return o.dt < p.dt
}

type predObjects struct {
	pred string
	objs []object
}

// subject is one subject's triples: types first (as IRIs), then the other
// predicates sorted by IRI, objects sorted.
type subject struct {
	iri   string
	types []string
	props []predObjects
}

type graphBuilder struct {
	base string
	m    map[string]map[string]map[object]struct{}
}

func (g *graphBuilder) add(s, p string, o object) {
	ps, ok := g.m[s]
	if !ok {
		ps = map[string]map[object]struct{}{}
		g.m[s] = ps
	}
	os, ok := ps[p]
	if !ok {
		os = map[object]struct{}{}
		ps[p] = os
	}
	os[o] = struct{}{}
}

// buildGraph turns a validated document into sorted subjects.
func buildGraph(doc *Document, base string) []subject {
	g := &graphBuilder{base: base, m: map[string]map[string]map[object]struct{}{}}
	for i := range doc.Nodes {
		g.node(&doc.Nodes[i])
	}
	for i := range doc.Relations {
		g.relation(&doc.Relations[i])
	}
	out := make([]subject, 0, len(g.m))
	for s, ps := range g.m {
		sub := subject{iri: s}
		for p, os := range ps {
			objs := make([]object, 0, len(os))
			for o := range os {
				objs = append(objs, o)
			}
			sort.Slice(objs, func(i, j int) bool { return objs[i].less(objs[j]) })
			if p == rdfType {
				for _, o := range objs {
					sub.types = append(sub.types, o.value)
				}
				continue
			}
			sub.props = append(sub.props, predObjects{p, objs})
		}
		sort.Slice(sub.props, func(i, j int) bool { return sub.props[i].pred < sub.props[j].pred })
		out = append(out, sub)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].iri < out[j].iri })
	return out
}

func (g *graphBuilder) node(n *Node) {
	s := IRI(g.base, n.ID)
	g.add(s, rdfType, iriObj(NSProv+string(n.Class)))
	if n.Kind != "" {
		g.add(s, rdfType, iriObj(NS+n.Kind))
	}
	for _, t := range n.Types {
		iri, _ := typeIRI(t) // validated
		g.add(s, rdfType, iriObj(iri))
	}
	if n.Label != "" {
		g.add(s, NSRDFS+"label", strObj(n.Label))
	}
	if n.Version > 0 {
		g.add(s, NS+"version", typedObj(strconv.Itoa(n.Version), xsdInt))
	}
	for pred, t := range map[string]*time.Time{
		"startedAtTime": n.StartedAt, "endedAtTime": n.EndedAt,
		"generatedAtTime": n.GeneratedAt, "invalidatedAtTime": n.InvalidatedAt,
	} {
		if t != nil {
			g.add(s, NSProv+pred, typedObj(formatTime(*t), xsdDate))
		}
	}
	for k, v := range n.Attrs {
		g.add(s, AttrIRI(k), strObj(v))
	}
}

func (g *graphBuilder) relation(r *Relation) {
	spec, _ := specOf(r.Type) // validated
	s, o := IRI(g.base, r.From), IRI(g.base, r.To)
	g.add(s, NSProv+string(r.Type), iriObj(o))
	if spec.qualProp == "" {
		return
	}
	q := QualifiedIRI(g.base, r)
	g.add(s, NSProv+spec.qualProp, iriObj(q))
	g.add(q, rdfType, iriObj(NSProv+spec.qualClass))
	g.add(q, NSProv+spec.qualObj, iriObj(o))
	if r.Role != "" {
		role := RoleIRI(g.base, r.Role)
		// The role's IRI is left untyped: prov:hadRole implies prov:Role, and typing a
		// record (a dataset template) as a Role makes python prov drop the statement.
		g.add(q, NSProv+"hadRole", iriObj(role))
	}
	if r.Plan != "" {
		g.add(q, NSProv+"hadPlan", iriObj(IRI(g.base, r.Plan)))
	}
	if r.Time != nil {
		g.add(q, NSProv+"atTime", typedObj(formatTime(*r.Time), xsdDate))
	}
}

// AttrIRI is the predicate IRI of a Node.Attrs key: NS + EscapeID(key).
func AttrIRI(key string) string { return NS + EscapeID(key) }

// QualifiedIRI is the IRI of a relation's qualified influence node (a
// prov:Usage, prov:Generation, ...): the From record's IRI, then a fragment made
// of the influence class and the first 64 bits of a SHA-256 over the relation's
// type, To, role, plan and time. It is "" for relations PROV-O does not qualify
// (HadMember).
func QualifiedIRI(base string, r *Relation) string {
	spec, ok := specOf(r.Type)
	if !ok || spec.qualProp == "" {
		return ""
	}
	h := sha256.New()
	t := ""
	if r.Time != nil {
		t = formatTime(*r.Time)
	}
	for _, part := range []string{string(r.Type), r.To, r.Role, r.Plan, t} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	s := IRI(base, r.From)
	sep := "#"
	if strings.Contains(s, "#") { // a base with a fragment: stay inside it
		sep = "/"
	}
	return s + sep + spec.fragment + "-" + hex.EncodeToString(h.Sum(nil)[:8])
}

// prefixes used by Turtle prefixed names and JSON-LD compact IRIs, in the order
// the Turtle header declares them.
var prefixes = []struct{ name, ns string }{
	{"prov", NSProv},
	{"pg", NS},
	{"rdfs", NSRDFS},
	{"xsd", NSXSD},
}

// compact returns prefix:local for an IRI in a known namespace whose local part
// is a simple name, or "" when the IRI must be written in full.
func compact(iri string) string {
	for _, p := range prefixes {
		if local, ok := strings.CutPrefix(iri, p.ns); ok && simpleName.MatchString(local) {
			return p.name + ":" + local
		}
	}
	return ""
}
