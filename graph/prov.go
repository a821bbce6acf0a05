package graph

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"provgraph"
	"provgraph/prov"
)

// MaxProvDepth bounds the upstream closure of a PROV document.
const MaxProvDepth = 20

// Provenance reads PROV documents out of the graph.
type Provenance struct{ DB *DB }

// Document is the record, what it generated and, up to depth hops upstream, what it came
// from. Agents are leaves: the closure never walks through a person to their other work.
// At depth 0 it holds the record, its neighbours and the relations that involve it.
func (p *Provenance) Document(ctx context.Context, id string, depth int) (*prov.Document, error) {
	if depth < 0 || depth > MaxProvDepth {
		return nil, provgraph.InvalidFields("depth out of range", []provgraph.FieldError{{Path: "depth", Message: fmt.Sprintf("must be 0 to %d", MaxProvDepth)}})
	}
	hops := max(depth, 1)
	cypher := fmt.Sprintf(`
		MATCH (r:Record {id:$id})
		CALL (r) {
			OPTIONAL MATCH path = (r)-[*1..%d]->(n)
			WHERE all(x IN nodes(path)[1..-1] WHERE NOT x:Agent)
			RETURN collect(DISTINCT n) AS up
		}
		CALL (r) {
			OPTIONAL MATCH (g)-[:WAS_GENERATED_BY]->(r)
			RETURN collect(DISTINCT g) AS generated
		}
		CALL (r) {
			OPTIONAL MATCH (x)-[{activity:$id}]->(y)
			RETURN collect(DISTINCT x) + collect(DISTINCT y) AS scoped
		}
		WITH r, up + generated + scoped + [r] AS nodes
		UNWIND nodes AS a
		WITH DISTINCT r, nodes, a
		OPTIONAL MATCH (a)-[rel]->(b) WHERE b IN nodes AND ($depth > 0 OR a = r OR b = r OR rel.activity = $id)
		RETURN nodes, collect(DISTINCT rel) AS rels`, hops)
	v, err := p.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, cypher, map[string]any{"id": id, "depth": depth})
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, provgraph.Errorf(provgraph.NotFound, "no record with id %q", id)
		}
		nodes, _ := recs[0].Get("nodes")
		rels, _ := recs[0].Get("rels")
		return toDocument(nodes.([]any), rels.([]any)), nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*prov.Document), nil
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
	entityOrNot := map[string]bool{}
	for _, x := range nodes {
		n := x.(dbtype.Node)
		pid := provID(n)
		byElement[n.ElementId] = pid
		node := prov.Node{ID: pid, Label: strProp(n.Props, "name"), Kind: strProp(n.Props, "kind")}
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
		if len(attrs) > 0 {
			node.Attrs = attrs
		}
		doc.Nodes = append(doc.Nodes, node)
		entityOrNot[n.ElementId] = node.Class == "Entity"
	}
	for _, x := range rels {
		r, ok := x.(dbtype.Relationship)
		if !ok {
			continue
		}
		t, ok := prov.ParseRelType(r.Type)
		if !ok {
			continue
		}
		// PROV attributes only entities; who registered an agent or activity record is
		// kept in the graph but is not a PROV statement about that agent or activity.
		if t == prov.WasAttributedTo && !entityOrNot[r.StartElementId] {
			continue
		}
		rel := prov.Relation{Type: t, From: byElement[r.StartElementId], To: byElement[r.EndElementId]}
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
		doc.Relations = append(doc.Relations, rel)
	}
	return doc
}

func timeProp(p map[string]any, key string) *time.Time {
	t, ok := p[key].(time.Time)
	if !ok {
		return nil
	}
	t = t.UTC()
	return &t
}
