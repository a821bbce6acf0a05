package graph

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"provgraph"
	"provgraph/lineage"
	"provgraph/prov"
	"provgraph/registry"
)

// Lineage answers lineage questions by a breadth-first walk, one statement per level,
// so that cost follows the nodes reached, never the number of paths to them (a DAG with
// fan-in has exponentially many). Agents are leaves; run events and housekeeping nodes
// are not lineage; superseded versions are followed only when asked.
type Lineage struct{ DB *DB }

// provRelTypes are the relationship types lineage follows.
var provRelTypes = func() string {
	var ts []string
	for _, t := range prov.RelTypes() {
		ts = append(ts, t.Neo4j())
	}
	return strings.Join(ts, "|")
}()

// Walk answers q.
func (l *Lineage) Walk(ctx context.Context, q lineage.Query) (lineage.Result, error) {
	v, err := l.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		return walk(ctx, tx, q)
	})
	if err != nil {
		return lineage.Result{}, err
	}
	return v.(lineage.Result), nil
}

func walk(ctx context.Context, tx neo4j.ManagedTransaction, q lineage.Query) (lineage.Result, error) {
	res := lineage.Result{Root: q.ID, Direction: string(q.Direction), Depth: q.Depth, Nodes: []lineage.Node{}, Edges: []lineage.Edge{}}
	viewer := viewerParam(q.Viewer)
	root, err := collect(ctx, tx, `MATCH (b:Record {id:$id}) WHERE `+readable("b")+` RETURN elementId(b) AS eid, labels(b) AS labels, b `+lineagePropsDeleted+` AS props`,
		map[string]any{"id": q.ID, "viewer": viewer})
	if err != nil {
		return res, err
	}
	if len(root) == 0 {
		return res, provgraph.Errorf(provgraph.NotFound, "no record with id %q", q.ID)
	}
	if err := notDeleted(root[0], q.ID, q.IncludeInvalidated); err != nil {
		return res, err
	}
	rn := projectedNode(root[0])
	seen := map[string]lineage.Node{rn.ElementId: lineageNode(rn, 0)}
	order := []string{rn.ElementId}
	edges := map[string]lineage.Edge{}
	frontier := []string{rn.ElementId}
	// reach records a row of (b, from, to, type, role) at depth; it says whether b is new.
	reach := func(row map[string]any, b dbtype.Node, depth int) bool {
		fresh := false
		if _, ok := seen[b.ElementId]; !ok {
			if len(seen) >= q.Limit {
				res.Truncated = true
				return false
			}
			seen[b.ElementId] = lineageNode(b, depth)
			order = append(order, b.ElementId)
			fresh = true
		}
		e := lineage.Edge{From: strProp(row, "from"), To: strProp(row, "to"), Type: strProp(row, "type"), Role: strProp(row, "role")}
		edges[e.From+"|"+e.To+"|"+e.Type+"|"+e.Role] = e
		return fresh
	}
	var patterns []string
	if q.Direction != lineage.Downstream {
		patterns = append(patterns, "(s)-[rel:"+provRelTypes+"]->(b0)")
	}
	if q.Direction != lineage.Upstream {
		patterns = append(patterns, "(s)<-[rel:"+provRelTypes+"]-(b0)")
	}
	for depth := 1; depth <= q.Depth && len(frontier) > 0 && !res.Truncated; depth++ {
		var next []string
		for _, pattern := range patterns {
			recs, err := collect(ctx, tx, fmt.Sprintf(`
				UNWIND $frontier AS eid
				MATCH (a) WHERE elementId(a) = eid
				// Lineage sees the latest version: a record's relationships include those of
				// its earlier versions, and an earlier version reached stands for the current
				// record, unless versions were asked for.
				CALL (a) {
					OPTIONAL MATCH (a)-[:WAS_REVISION_OF*1..50]->(old:Revision) WHERE NOT $versions
					WITH collect(old) AS olds
					RETURN [a] + olds AS selves
				}
				UNWIND selves AS s
				MATCH %s
				WHERE $versions OR type(rel) <> 'WAS_REVISION_OF'
				OPTIONAL MATCH (cur:Record {id:b0.id}) WHERE b0:Revision AND NOT $versions
				WITH a, s, rel, coalesce(cur, b0) AS b
				WHERE b <> a AND (b:Record OR ($versions AND b:Revision) OR b:RunAttempt OR b:Agent)
					AND ($agents OR NOT b:Agent) AND NOT b:RunEvent AND `+readable("b")+` AND `+walkCurrent(q)+`
				WITH DISTINCT b,
					CASE WHEN startNode(rel) = s THEN elementId(a) ELSE elementId(b) END AS from,
					CASE WHEN endNode(rel) = s THEN elementId(a) ELSE elementId(b) END AS to,
					type(rel) AS type, rel.role AS role
				LIMIT $cap
				RETURN `+lineageRows(q.IncludeInvalidated), pattern),
				map[string]any{"frontier": frontier, "versions": q.Versions, "agents": q.IncludeAgents, "cap": q.Limit * 4, "viewer": viewer,
					"invalidated": q.IncludeInvalidated})
			if err != nil {
				return res, err
			}
			rows := mapsOf(recs[0], "rows")
			for _, row := range rows {
				// Agents are leaves: what else a person did is not this record's lineage.
				if b := nodeOf(row["eid"], row["labels"], row["props"]); reach(row, b, depth) && !slices.Contains(b.Labels, "Agent") {
					next = append(next, b.ElementId)
				}
			}
			if len(rows) == q.Limit*4 {
				res.Truncated = true
			}
		}
		frontier = next
	}
	// Downstream, the agents of what was reached hang off it by arrows out: they are the
	// agents affected. (Upstream walks reach them on their own.)
	if q.IncludeAgents && q.Direction != lineage.Upstream && !res.Truncated {
		recs, err := collect(ctx, tx, `
			UNWIND $reached AS eid
			MATCH (a) WHERE elementId(a) = eid AND NOT a:Agent
			MATCH (a)-[rel:`+provRelTypes+`]->(b:Agent) WHERE `+readable("b")+` AND ($invalidated OR b.deleted_at IS NULL)
			WITH b, elementId(a) AS from, elementId(b) AS to, type(rel) AS type, rel.role AS role
			LIMIT $cap
			RETURN `+lineageRows(q.IncludeInvalidated), map[string]any{"reached": order, "cap": q.Limit * 4, "viewer": viewer, "invalidated": q.IncludeInvalidated})
		if err != nil {
			return res, err
		}
		for _, row := range mapsOf(recs[0], "rows") {
			reach(row, nodeOf(row["eid"], row["labels"], row["props"]), seen[strProp(row, "from")].Depth+1)
		}
	}
	keep := map[string]bool{}
	for _, eid := range order {
		n := seen[eid]
		if eid == rn.ElementId || len(q.Kinds) == 0 || slices.Contains(q.Kinds, n.Kind) {
			res.Nodes = append(res.Nodes, n)
			keep[eid] = true
		}
	}
	for _, e := range edges {
		if keep[e.From] && keep[e.To] {
			res.Edges = append(res.Edges, lineage.Edge{From: seen[e.From].ID, To: seen[e.To].ID, Type: e.Type, Role: e.Role})
		}
	}
	slices.SortFunc(res.Edges, func(a, b lineage.Edge) int {
		return strings.Compare(a.From+a.To+a.Type+a.Role, b.From+b.To+b.Type+b.Role)
	})
	return res, nil
}

// lineageProps projects the properties of a node that lineageNode reads: never the
// whole node, which for a model run holds its PROV-JSON.
const lineageProps = `{.id, .kind, .name, .state, .version, .startedAtTime, .endedAtTime, .created_at}`

// lineagePropsDeleted adds when a record was deleted, for answers that may hold deleted
// records (an answer that may not need not read it).
const lineagePropsDeleted = `{.id, .kind, .name, .state, .version, .startedAtTime, .endedAtTime, .created_at, .deleted_at}`

func propsFor(invalidated bool) string {
	if invalidated {
		return lineagePropsDeleted
	}
	return lineageProps
}

// current is the Cypher condition that node n is not invalidated, unless $invalidated
// asks for invalidated records too. A deleted record carries deleted_at; a superseded
// version (:Revision) of a deleted record does not, so it is checked by its record's id.
// Deleted records are history, not lineage: a walk neither returns nor passes them.
func current(n string) string {
	return fmt.Sprintf("($invalidated OR (%[1]s.deleted_at IS NULL AND (NOT %[1]s:Revision OR NOT EXISTS { MATCH (c:Record {id:%[1]s.id}) WHERE c.deleted_at IS NOT NULL })))", n)
}

// walkCurrent is current(b) as a level of a walk needs it, as cheap as q allows: nothing
// when invalidated records were asked for; without versions, b is never a superseded
// version (one reached stands for its record), so its own deleted_at says it all.
func walkCurrent(q lineage.Query) string {
	switch {
	case q.IncludeInvalidated:
		return "true"
	case !q.Versions:
		return "b.deleted_at IS NULL"
	}
	return current("b")
}

// notDeleted refuses a record asked about that was deleted, unless invalidated records
// were asked for: a deleted record has no lineage of its own.
func notDeleted(rec *neo4j.Record, id string, invalidated bool) error {
	if invalidated {
		return nil
	}
	props, _ := rec.Get("props")
	if p, ok := props.(map[string]any); ok && p["deleted_at"] != nil {
		return &provgraph.Error{Code: provgraph.NotFound, Message: fmt.Sprintf("record %q was deleted; its lineage is history (include_invalidated=true shows it)", id)}
	}
	return nil
}

// lineageRows gathers a level's rows of (b, from, to, type, role) into one list: one Bolt
// message per level instead of one per edge.
func lineageRows(invalidated bool) string {
	return `collect({eid: elementId(b), labels: labels(b), props: b ` + propsFor(invalidated) + `,
	from: from, to: to, type: type, role: role}) AS rows`
}

func lineageNode(n dbtype.Node, depth int) lineage.Node {
	p := n.Props
	out := lineage.Node{ID: provID(n), Kind: strProp(p, "kind"), Name: strProp(p, "name"), State: strProp(p, "state"), Depth: depth,
		StartedAt: timeProp(p, "startedAtTime"), EndedAt: timeProp(p, "endedAtTime"), CreatedAt: timeProp(p, "created_at"),
		InvalidatedAt: timeProp(p, "deleted_at")}
	if out.Kind == "" && len(n.Labels) > 0 {
		out.Kind = n.Labels[0]
	}
	if v, ok := p["version"].(int64); ok {
		out.Version = int(v)
	}
	return out
}

// Path is how two records are connected: the shortest directed path from one to the
// other, tried both ways (from depends on to: "upstream"; to depends on from:
// "downstream"), never through an agent nor through a record the viewer may not read,
// nor through a deleted record unless invalidated is set. No path is a result with no
// nodes.
func (l *Lineage) Path(ctx context.Context, from, to string, maxDepth int, invalidated bool, who registry.Viewer) (lineage.Result, error) {
	viewer := viewerParam(who)
	v, err := l.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res := lineage.Result{Root: from, Nodes: []lineage.Node{}, Edges: []lineage.Edge{}}
		ends, err := collect(ctx, tx, `UNWIND [$from, $to] AS id MATCH (n:Record {id:id}) WHERE `+readable("n")+` RETURN n.id AS id, n.deleted_at IS NOT NULL AS deleted`,
			map[string]any{"from": from, "to": to, "viewer": viewer})
		if err != nil {
			return nil, err
		}
		found, deleted := map[string]bool{}, map[string]bool{}
		for _, r := range ends {
			found[str(r, "id")] = true
			if d, _ := r.Get("deleted"); d == true && !invalidated {
				deleted[str(r, "id")] = true
			}
		}
		var errs []provgraph.FieldError
		for _, e := range []struct{ param, id string }{{"from", from}, {"to", to}} {
			switch {
			case !found[e.id]:
				errs = append(errs, provgraph.FieldError{Path: e.param, Message: fmt.Sprintf("no record with id %q", e.id)})
			case deleted[e.id]:
				errs = append(errs, provgraph.FieldError{Path: e.param, Message: fmt.Sprintf("record %q was deleted (include_invalidated=true follows deleted records)", e.id)})
			}
		}
		if len(errs) > 0 {
			return nil, &provgraph.Error{Code: provgraph.NotFound, Message: "no such record", Fields: errs}
		}
		for _, try := range []struct{ a, b, direction string }{{from, to, "upstream"}, {to, from, "downstream"}} {
			recs, err := collect(ctx, tx, fmt.Sprintf(`
				MATCH (a:Record {id:$a}), (b:Record {id:$b})
				MATCH p = shortestPath((a)-[:%s*..%d]->(b))
				WHERE all(n IN nodes(p)[1..-1] WHERE NOT n:Agent AND `+readable("n")+` AND `+current("n")+`)
				RETURN [n IN nodes(p) | {eid: elementId(n), labels: labels(n), props: n `+propsFor(invalidated)+`}] AS nodes,
					relationships(p) AS rels`, provRelTypes, maxDepth),
				map[string]any{"a": try.a, "b": try.b, "viewer": viewer, "invalidated": invalidated})
			if err != nil {
				return nil, err
			}
			if len(recs) == 0 {
				continue
			}
			res.Direction = try.direction
			rels, _ := recs[0].Get("rels")
			ids := map[string]string{}
			for i, n := range collectedNodes(recs[0], "nodes") {
				ln := lineageNode(n, i)
				ids[n.ElementId] = ln.ID
				res.Nodes = append(res.Nodes, ln)
			}
			for _, x := range rels.([]any) {
				r := x.(dbtype.Relationship)
				res.Edges = append(res.Edges, lineage.Edge{From: ids[r.StartElementId], To: ids[r.EndElementId], Type: r.Type, Role: strProp(r.Props, "role")})
			}
			res.Depth = len(res.Edges)
			return res, nil
		}
		return res, nil
	})
	if err != nil {
		return lineage.Result{}, err
	}
	return v.(lineage.Result), nil
}
