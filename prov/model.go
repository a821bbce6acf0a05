package prov

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Namespaces used by the encoders.
const (
	// NS is the vocabulary namespace for provgraph's own terms (kinds, attributes).
	NS = "https://w3id.org/provgraph/ns#"

	NSProv = "http://www.w3.org/ns/prov#"
	NSRDF  = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
	NSRDFS = "http://www.w3.org/2000/01/rdf-schema#"
	NSXSD  = "http://www.w3.org/2001/XMLSchema#"
)

// Class is a node's PROV class.
type Class string

// The PROV classes.
const (
	Entity   Class = "Entity"
	Activity Class = "Activity"
	Agent    Class = "Agent"
)

// Node is one record: a PROV entity, activity or agent.
type Node struct {
	ID      string // record id, e.g. "local/01JD3Z6W4M2X3Q5V7B9N1C8K0E"; IRI = base + EscapeID(ID)
	Class   Class
	Kind    string   // provgraph kind label, e.g. "Dataset", "ModelRun", "Person"; written as pg:<Kind>
	Types   []string // extra PROV types as CURIEs, "prov:Person", "prov:Plan", ... (or "pg:<name>")
	Label   string
	Version int // 0 = unversioned

	StartedAt, EndedAt         *time.Time // activities only
	GeneratedAt, InvalidatedAt *time.Time // entities only

	// Attrs are extra literal attributes, written as pg:<key> string literals.
	Attrs map[string]string
}

// RelType names a PROV relation. Its value is the PROV-O property's local name,
// which is also the PROV-JSON section name (except WasRevisionOf, which PROV-JSON
// writes as a wasDerivedFrom typed prov:Revision).
type RelType string

// The PROV relations.
const (
	Used              RelType = "used"
	WasGeneratedBy    RelType = "wasGeneratedBy"
	WasAssociatedWith RelType = "wasAssociatedWith"
	WasAttributedTo   RelType = "wasAttributedTo"
	ActedOnBehalfOf   RelType = "actedOnBehalfOf"
	WasDerivedFrom    RelType = "wasDerivedFrom"
	WasRevisionOf     RelType = "wasRevisionOf"
	WasInformedBy     RelType = "wasInformedBy"
	WasInfluencedBy   RelType = "wasInfluencedBy"
	HadMember         RelType = "hadMember"
	WasInvalidatedBy  RelType = "wasInvalidatedBy"
	WasStartedBy      RelType = "wasStartedBy"
	WasEndedBy        RelType = "wasEndedBy"
)

// RelTypes lists every relation type in a fixed order.
func RelTypes() []RelType {
	out := make([]RelType, len(relSpecs))
	for i, s := range relSpecs {
		out[i] = s.typ
	}
	return out
}

// ParseRelType accepts a relation's PROV-O name ("wasGeneratedBy") or its Neo4j
// relationship type ("WAS_GENERATED_BY", DESIGN §3).
func ParseRelType(s string) (RelType, bool) {
	for _, spec := range relSpecs {
		if s == string(spec.typ) || s == spec.typ.Neo4j() {
			return spec.typ, true
		}
	}
	return "", false
}

// Neo4j returns the relationship type provgraph stores the relation as in Neo4j,
// e.g. "WAS_GENERATED_BY".
func (t RelType) Neo4j() string {
	var b strings.Builder
	for i, r := range string(t) {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		} else {
			b.WriteRune(r - 'a' + 'A')
		}
	}
	return b.String()
}

// Relation is a binary PROV relation from the dependent thing (PROV's subject) to
// the thing it depends on:
//
//	Used              activity -> entity          (Role, Time)
//	WasGeneratedBy    entity -> activity          (Role, Time)
//	WasAssociatedWith activity -> agent           (Role, Plan)
//	WasAttributedTo   entity -> agent
//	ActedOnBehalfOf   delegate agent -> responsible agent
//	WasDerivedFrom    later entity -> earlier entity
//	WasRevisionOf     newer version -> older version
//	WasInformedBy     informed activity -> informant activity
//	WasInfluencedBy   influencee -> influencer
//	HadMember         collection -> member entity
//	WasInvalidatedBy  entity -> activity          (Role, Time)
//	WasStartedBy      activity -> trigger entity  (Role, Time)
//	WasEndedBy        activity -> trigger entity  (Role, Time)
//
// Role, Plan and Time are allowed only where PROV allows them (shown above);
// Encode rejects them elsewhere rather than drop them silently.
type Relation struct {
	Type RelType
	From string // id of the dependent thing
	To   string // id of the other end
	// Role is a record id (when it contains '/', as every provgraph id does) whose
	// IRI becomes the role, or a plain name such as a port name, whose role IRI is
	// NS + "role/" + EscapeID(name). See RoleIRI.
	Role string
	Plan string // WasAssociatedWith: the plan's record id
	Time *time.Time
}

// Document is a set of nodes and relations. The relations may refer to nodes
// that are not in the document (for example, in another streamed chunk).
type Document struct {
	Nodes     []Node
	Relations []Relation
}

// Encoder writes documents in one serialization. Encode may be called many
// times, each call a chunk of one larger document; Close writes any footer and
// must be called once at the end, also after an error, to release resources.
// Encode and Close do not close the underlying writer.
type Encoder interface {
	Encode(doc *Document) error
	Close() error
}

// relSpec is everything the encoders need to know about one relation type.
type relSpec struct {
	typ RelType
	// PROV-O qualified form; qualProp is "" when PROV-O has none.
	qualProp, qualClass, qualObj, fragment string
	role, time, plan                       bool
	// PROV-JSON: section and the attributes holding From and To.
	jsonSection, jsonFrom, jsonTo string
}

var relSpecs = []relSpec{
	{WasGeneratedBy, "qualifiedGeneration", "Generation", "activity", "generation", true, true, false, "wasGeneratedBy", "prov:entity", "prov:activity"},
	{Used, "qualifiedUsage", "Usage", "entity", "usage", true, true, false, "used", "prov:activity", "prov:entity"},
	{WasInformedBy, "qualifiedCommunication", "Communication", "activity", "communication", false, false, false, "wasInformedBy", "prov:informed", "prov:informant"},
	{WasStartedBy, "qualifiedStart", "Start", "entity", "start", true, true, false, "wasStartedBy", "prov:activity", "prov:trigger"},
	{WasEndedBy, "qualifiedEnd", "End", "entity", "end", true, true, false, "wasEndedBy", "prov:activity", "prov:trigger"},
	{WasInvalidatedBy, "qualifiedInvalidation", "Invalidation", "activity", "invalidation", true, true, false, "wasInvalidatedBy", "prov:entity", "prov:activity"},
	{WasDerivedFrom, "qualifiedDerivation", "Derivation", "entity", "derivation", false, false, false, "wasDerivedFrom", "prov:generatedEntity", "prov:usedEntity"},
	{WasRevisionOf, "qualifiedRevision", "Revision", "entity", "revision", false, false, false, "wasDerivedFrom", "prov:generatedEntity", "prov:usedEntity"},
	{WasAttributedTo, "qualifiedAttribution", "Attribution", "agent", "attribution", false, false, false, "wasAttributedTo", "prov:entity", "prov:agent"},
	{WasAssociatedWith, "qualifiedAssociation", "Association", "agent", "association", true, false, true, "wasAssociatedWith", "prov:activity", "prov:agent"},
	{ActedOnBehalfOf, "qualifiedDelegation", "Delegation", "agent", "delegation", false, false, false, "actedOnBehalfOf", "prov:delegate", "prov:responsible"},
	{WasInfluencedBy, "qualifiedInfluence", "Influence", "influencer", "influence", false, false, false, "wasInfluencedBy", "prov:influencee", "prov:influencer"},
	{HadMember, "", "", "", "", false, false, false, "hadMember", "prov:collection", "prov:entity"},
}

func specOf(t RelType) (*relSpec, bool) {
	for i := range relSpecs {
		if relSpecs[i].typ == t {
			return &relSpecs[i], true
		}
	}
	return nil, false
}

// simpleName is what may follow "pg:" or "prov:" unescaped in every format.
var simpleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// typeIRI expands a CURIE from Node.Types ("prov:Person", "pg:Thing").
func typeIRI(curie string) (string, error) {
	prefix, local, ok := strings.Cut(curie, ":")
	if !ok || !simpleName.MatchString(local) {
		return "", fmt.Errorf("type %q is not a CURIE like prov:Person", curie)
	}
	switch prefix {
	case "prov":
		return NSProv + local, nil
	case "pg":
		return NS + local, nil
	}
	return "", fmt.Errorf("type %q: prefix %q is neither prov nor pg", curie, prefix)
}

// Validate checks the document against the rules the encoders rely on. The
// encoders call it on every chunk before writing anything.
func (d *Document) Validate() error {
	for i := range d.Nodes {
		if err := d.Nodes[i].validate(); err != nil {
			return fmt.Errorf("prov: node %d (%q): %w", i, d.Nodes[i].ID, err)
		}
	}
	for i := range d.Relations {
		if err := d.Relations[i].validate(); err != nil {
			r := &d.Relations[i]
			return fmt.Errorf("prov: relation %d (%s %q -> %q): %w", i, r.Type, r.From, r.To, err)
		}
	}
	return nil
}

func (n *Node) validate() error {
	if n.ID == "" {
		return fmt.Errorf("empty id")
	}
	switch n.Class {
	case Entity, Activity, Agent:
	default:
		return fmt.Errorf("class %q is not Entity, Activity or Agent", n.Class)
	}
	if n.Kind != "" && !simpleName.MatchString(n.Kind) {
		return fmt.Errorf("kind %q is not a simple name", n.Kind)
	}
	for _, t := range n.Types {
		if _, err := typeIRI(t); err != nil {
			return err
		}
	}
	if n.Version < 0 {
		return fmt.Errorf("negative version %d", n.Version)
	}
	if n.Class != Activity && (n.StartedAt != nil || n.EndedAt != nil) {
		return fmt.Errorf("a %s has no start or end time", n.Class)
	}
	if n.Class != Entity && (n.GeneratedAt != nil || n.InvalidatedAt != nil) {
		return fmt.Errorf("an %s has no generation or invalidation time", n.Class)
	}
	for k := range n.Attrs {
		if k == "" {
			return fmt.Errorf("empty attribute name")
		}
	}
	return nil
}

func (r *Relation) validate() error {
	spec, ok := specOf(r.Type)
	if !ok {
		return fmt.Errorf("unknown relation type %q", r.Type)
	}
	if r.From == "" || r.To == "" {
		return fmt.Errorf("both ends are required")
	}
	if r.Role != "" && !spec.role {
		return fmt.Errorf("PROV allows no role on %s", r.Type)
	}
	if r.Time != nil && !spec.time {
		return fmt.Errorf("PROV allows no time on %s", r.Type)
	}
	if r.Plan != "" && !spec.plan {
		return fmt.Errorf("PROV allows no plan on %s", r.Type)
	}
	return nil
}

// RoleIsRecord reports whether a Relation.Role names a record (its IRI is the
// role) rather than being a plain name: provgraph ids always contain '/'.
func RoleIsRecord(role string) bool { return strings.Contains(role, "/") }

// RoleIRI returns the IRI a Relation.Role stands for.
func RoleIRI(base, role string) string {
	if RoleIsRecord(role) {
		return IRI(base, role)
	}
	return NS + "role/" + EscapeID(role)
}

// formatTime writes an xsd:dateTime in UTC, keeping sub-second precision and
// dropping trailing zeros.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.999999999Z07:00")
}

// stickyWriter remembers the first write error.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) write(p []byte) {
	if s.err == nil {
		_, s.err = s.w.Write(p)
	}
}

// Allows says which of role, time and plan a relation type carries in PROV.
func (t RelType) Allows() (role, time, plan bool) {
	s, ok := specOf(t)
	if !ok {
		return false, false, false
	}
	return s.role, s.time, s.plan
}

// ready is what every encoder checks before a chunk: still open, no earlier write
// error, a usable base and a valid document.
func ready(closed bool, writeErr error, base string, doc *Document) error {
	if closed {
		return errClosed
	}
	if writeErr != nil {
		return writeErr
	}
	if err := checkBase(base); err != nil {
		return err
	}
	return doc.Validate()
}
