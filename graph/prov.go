package graph

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"provgraph"
	"provgraph/prov"
	"provgraph/registry"
)

// MaxProvDepth bounds the upstream closure of a PROV document.
const MaxProvDepth = 20

// Provenance reads PROV documents out of the graph.
type Provenance struct{ DB *DB }

// Document is the record, what it generated and, up to depth hops upstream, what it came
// from. Agents are leaves: the closure never walks through a person to their other work.
// At depth 0 it holds the record, its neighbours and the relations that involve it. What
// the viewer may not read is left out, and nothing is reached through it.
func (p *Provenance) Document(ctx context.Context, id string, depth int, who registry.Viewer) (*prov.Document, error) {
	if depth < 0 || depth > MaxProvDepth {
		return nil, provgraph.InvalidFields("depth out of range", []provgraph.FieldError{{Path: "depth", Message: fmt.Sprintf("must be 0 to %d", MaxProvDepth)}})
	}
	v, err := p.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		docs, err := documents(ctx, tx, []string{id}, depth, who)
		if err != nil {
			return nil, err
		}
		doc, ok := docs[id]
		if !ok {
			return nil, provgraph.Errorf(provgraph.NotFound, "no record with id %q", id)
		}
		return doc, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*prov.Document), nil
}

// documents reads the documents of several records in one statement; unknown ids are
// absent from the map. An agent's own edges are never walked (a busy modeller has one
// per run): what an agent did for a run is found by the run's id, through an index.
func documents(ctx context.Context, tx neo4j.ManagedTransaction, ids []string, depth int, v registry.Viewer) (map[string]*prov.Document, error) {
	cypher := fmt.Sprintf(`
		UNWIND $ids AS id
		MATCH (r:Record {id:id}) WHERE `+readable("r")+`
		CALL (r) {
			OPTIONAL MATCH path = (r)-[*1..%d]->(n)
			WHERE all(x IN nodes(path)[1..-1] WHERE NOT x:Agent) AND all(x IN nodes(path)[1..] WHERE `+readable("x")+`)
			RETURN collect(DISTINCT n) AS up
		}
		CALL (r) {
			OPTIONAL MATCH (g)-[:WAS_GENERATED_BY]->(r) WHERE `+readable("g")+`
			RETURN collect(DISTINCT g) AS generated
		}
		WITH r, up + generated + [r] AS nodes
		CALL (r, nodes) {
			UNWIND [x IN nodes WHERE x:Activity AND ($depth > 0 OR x = r)] AS act
			MATCH (a)-[rel:ACTED_ON_BEHALF_OF {activity:act.id}]->(b)
			WHERE coalesce(rel.activity_version, act.version) = act.version AND a IN nodes AND `+readable("b")+`
			RETURN collect(DISTINCT rel) AS scoped, collect(DISTINCT b) AS principals
		}
		WITH r, scoped, nodes + [b IN principals WHERE NOT b IN nodes] AS nodes
		CALL (r, nodes) {
			UNWIND nodes AS a
			WITH DISTINCT a WHERE NOT a:Agent
			MATCH (a)-[rel]->(b) WHERE b IN nodes AND ($depth > 0 OR a = r OR b = r OR (rel.activity = r.id AND coalesce(rel.activity_version, r.version) = r.version))
			RETURN collect(DISTINCT rel) AS rels
		}
		RETURN r.id AS id, nodes, rels + scoped AS rels`, max(depth, 1))
	recs, err := collect(ctx, tx, cypher, map[string]any{"ids": ids, "depth": depth, "viewer": viewerParam(v)})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*prov.Document, len(recs))
	for _, r := range recs {
		nodes, _ := r.Get("nodes")
		rels, _ := r.Get("rels")
		out[str(r, "id")] = toDocument(nodes.([]any), rels.([]any))
	}
	return out, nil
}

// provID names a node in a PROV document: superseded versions get their own IRI.
func provID(n dbtype.Node) string {
	id := strProp(n.Props, "id")
	if slices.Contains(n.Labels, "Revision") {
		return fmt.Sprintf("%s/versions/%d", id, n.Props["version"])
	}
	return id
}

var provTypes = map[string]string{"Person": "prov:Person", "Organisation": "prov:Organization", "WorkflowTemplate": "prov:Plan", "SoftwareAgent": "prov:SoftwareAgent"}

func toDocument(nodes, rels []any) *prov.Document {
	doc := &prov.Document{}
	byElement := map[string]string{}
	class := map[string]prov.Class{}
	entityOrNot := map[string]bool{}
	for _, x := range nodes {
		n := x.(dbtype.Node)
		node := provNode(n)
		byElement[n.ElementId] = node.ID
		doc.Nodes = append(doc.Nodes, node)
		class[n.ElementId] = node.Class
		entityOrNot[n.ElementId] = node.Class == "Entity"
	}
	seen := map[string]bool{}
	for _, x := range rels {
		r, ok := x.(dbtype.Relationship)
		if !ok {
			continue
		}
		rel, ok := provRelation(r, byElement[r.StartElementId], byElement[r.EndElementId], entityOrNot[r.StartElementId])
		if !ok {
			continue
		}
		// The graph also keeps what PROV does not define (revisions of agents,
		// invalidations of activities), and one edge per run where PROV has one
		// statement (a modeller acting for an organisation): both stay out.
		if d, ok := provDomains[rel.Type]; ok && (class[r.StartElementId] != d[0] || class[r.EndElementId] != d[1]) {
			continue
		}
		key := fmt.Sprint(rel.Type, "|", rel.From, "|", rel.To, "|", rel.Role, "|", rel.Plan, "|", rel.Time)
		if seen[key] {
			continue
		}
		seen[key] = true
		doc.Relations = append(doc.Relations, rel)
	}
	return doc
}

// provNodeProps are the node properties provNode reads; a reader may fetch only these.
var provNodeProps = []string{"id", "version", "name", "kind", "startedAtTime", "endedAtTime", "deleted_at", "location", "license", "model_version", "state"}

// provNodeProjection is a Cypher map projection of provNodeProps (".id, .version, …").
var provNodeProjection = "." + strings.Join(provNodeProps, ", .")

// projectedNode rebuilds a node from a row of eid, labels and projected props.
func projectedNode(r *neo4j.Record) dbtype.Node {
	eid, _ := r.Get("eid")
	ls, _ := r.Get("labels")
	ps, _ := r.Get("props")
	return nodeOf(eid, ls, ps)
}

// collectedNodes rebuilds the nodes of a column of maps {eid, labels, props}: a
// statement that returns its nodes as one row costs one Bolt message, not one each.
func collectedNodes(r *neo4j.Record, column string) []dbtype.Node {
	maps := mapsOf(r, column)
	out := make([]dbtype.Node, len(maps))
	for i, m := range maps {
		out[i] = nodeOf(m["eid"], m["labels"], m["props"])
	}
	return out
}

// mapsOf reads a column that holds a list of maps, as collect({…}) returns.
func mapsOf(r *neo4j.Record, column string) []map[string]any {
	v, _ := r.Get(column)
	list, _ := v.([]any)
	out := make([]map[string]any, len(list))
	for i, x := range list {
		out[i] = x.(map[string]any)
	}
	return out
}

func nodeOf(eid, labels, props any) dbtype.Node {
	n := dbtype.Node{ElementId: eid.(string), Props: map[string]any{}}
	for _, l := range labels.([]any) {
		n.Labels = append(n.Labels, l.(string))
	}
	for k, v := range props.(map[string]any) {
		if v != nil {
			n.Props[k] = v
		}
	}
	return n
}

// provNode converts a record, revision, user or activity node to its PROV node.
func provNode(n dbtype.Node) prov.Node {
	node := prov.Node{ID: provID(n), Label: strProp(n.Props, "name"), Kind: strProp(n.Props, "kind")}
	switch {
	case slices.Contains(n.Labels, "Activity"):
		node.Class = "Activity"
	case slices.Contains(n.Labels, "Agent"):
		node.Class = "Agent"
	default:
		node.Class = "Entity"
	}
	if node.Kind == "" {
		node.Kind = n.Labels[0]
	}
	if t, ok := provTypes[node.Kind]; ok {
		node.Types = []string{t}
	} else if slices.Contains(n.Labels, "SoftwareAgent") {
		node.Types = []string{"prov:SoftwareAgent"} // an executor: whoever claims runs
	}
	if v, ok := n.Props["version"].(int64); ok {
		node.Version = int(v)
	}
	if node.Class == "Activity" {
		node.StartedAt = timeProp(n.Props, "startedAtTime")
		node.EndedAt = timeProp(n.Props, "endedAtTime")
	} else if node.Class == "Entity" {
		node.InvalidatedAt = timeProp(n.Props, "deleted_at")
	}
	attrs := map[string]string{}
	for _, k := range []string{"location", "license", "model_version", "state"} {
		if s := strProp(n.Props, k); s != "" {
			attrs[k] = s
		}
	}
	// PROV-O invalidates entities only: a deleted activity (a model run) says when it was
	// deleted in provgraph's own term, beside the Deletion activity the export holds.
	if t := timeProp(n.Props, "deleted_at"); node.Class == "Activity" && t != nil {
		attrs["deleted_at"] = t.UTC().Format(time.RFC3339Nano)
	}
	if len(attrs) > 0 {
		node.Attrs = attrs
	}
	return node
}

// provRelation converts a relationship between the PROV nodes from and to; ok is false
// for relationships that are not PROV statements. fromEntity says whether the start node
// is an entity.
func provRelation(r dbtype.Relationship, from, to string, fromEntity bool) (prov.Relation, bool) {
	t, ok := prov.ParseRelType(r.Type)
	if !ok {
		return prov.Relation{}, false
	}
	// PROV attributes only entities; who registered an agent or activity record is
	// kept in the graph but is not a PROV statement about that agent or activity.
	if t == prov.WasAttributedTo && !fromEntity {
		return prov.Relation{}, false
	}
	rel := prov.Relation{Type: t, From: from, To: to}
	role, at, plan := t.Allows()
	if role {
		rel.Role = strProp(r.Props, "role")
	}
	if at {
		rel.Time = timeProp(r.Props, "time")
	}
	if plan {
		rel.Plan = strProp(r.Props, "plan")
	}
	return rel, true
}

func timeProp(p map[string]any, key string) *time.Time {
	t, ok := p[key].(time.Time)
	if !ok {
		return nil
	}
	t = t.UTC()
	return &t
}
