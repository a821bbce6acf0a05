package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"provgraph"
	"provgraph/prov"
	"provgraph/registry"
)

// ExportPageSize is how many nodes, or relations, one page of an export reads.
const ExportPageSize = 2000

// Export writes the whole graph as one PROV document: every PROV node (current records,
// their revisions, users, deletions and any other :Entity, :Activity or :Agent node with
// an id), then every PROV relation between them, under the same rules as Document.
// Nothing else (idempotency keys) is exported.
//
// It reads in keyset pages, one read transaction per page, and calls enc.Encode once per
// page, so memory stays flat and no transaction holds the database for long. The caller
// owns enc: Export never closes it. progress, when not nil, is called before the first
// page and after each one with the statements written so far and the total counted at
// the start (raised to done when writes since then make it larger).
//
// Pages are separate transactions, so writes made during an export may or may not be in
// it, but no node is ever written twice: each kind of node is read in the order of a
// unique key, each page after the last key of the one before. A record updated meanwhile
// can appear under its id (as it was) and again as its superseded version, which has its
// own IRI; a relation may name a node created after that node's page was read.
func (p *Provenance) Export(ctx context.Context, enc prov.Encoder, progress func(done, total int64)) error {
	return p.export(ctx, enc, progress, exportOptions{pageSize: ExportPageSize})
}

// exportOptions let tests use small pages and export only the records under one id prefix
// (with every user, who belong to no prefix).
type exportOptions struct {
	pageSize int
	prefix   string
}

// exportGroup is one kind of PROV node with the unique key an export pages it by.
type exportGroup struct {
	// pattern binds n; hint, if any, follows it in paging queries; where filters n.
	pattern, hint, where string
	// after keeps the nodes whose key is op ("gt" or "ge") the cursor ($k1, $k2); order
	// sorts by the key and key returns it as a list.
	after      func(op string) string
	order, key string
	k2         bool // the key has two parts
	scoped     bool // a scoped export keeps only ids under its prefix
}

var (
	cmpOps = map[string]string{"gt": ">", "ge": ">="}

	exportGroups = []exportGroup{
		{
			pattern: "(n:Record)", where: "n.id IS NOT NULL",
			after: func(op string) string { return "n.id " + cmpOps[op] + " $k1" },
			order: "n.id", key: "[n.id]", scoped: true,
		},
		{
			// The hint and the CASE keep the planner on the (id, version) index in key
			// order; the equivalent OR becomes a union that reads every revision per page.
			pattern: "(n:Revision)", hint: " USING INDEX n:Revision(id, version)", where: "n.id IS NOT NULL",
			after: func(op string) string {
				return "n.id >= $k1 AND n.version IS NOT NULL AND CASE WHEN n.id = $k1 THEN n.version " + cmpOps[op] + " $k2 ELSE true END"
			},
			order: "n.id, n.version", key: "[n.id, n.version]", k2: true, scoped: true,
		},
		{
			pattern: "(n:User)", where: "n.id IS NOT NULL",
			after: func(op string) string { return "n.subject " + cmpOps[op] + " $k1" },
			order: "n.subject", key: "[n.subject]",
		},
		{
			pattern: "(n:Deletion)", where: "n.id IS NOT NULL",
			after: func(op string) string { return "n.id " + cmpOps[op] + " $k1" },
			order: "n.id", key: "[n.id]", scoped: true,
		},
		{
			// None today; read by a label scan, so a future kind of node is not lost.
			pattern: "(n)", where: "(n:Entity OR n:Activity OR n:Agent) AND NOT (n:Record OR n:Revision OR n:User OR n:Deletion) AND n.id IS NOT NULL",
			after: func(op string) string { return "elementId(n) " + cmpOps[op] + " $k1" },
			order: "elementId(n)", key: "[elementId(n)]", scoped: true,
		},
	}
)

// match is the MATCH clause of g's nodes, ending in a WHERE to be continued with AND.
func (o exportOptions) match(g exportGroup, paging bool) string {
	q := "MATCH " + g.pattern
	if paging {
		q += g.hint
	}
	q += " WHERE " + g.where
	if o.prefix != "" && g.scoped {
		q += " AND n.id > $prefix AND n.id < $upper"
	}
	return q
}

// exportRelFilter keeps what toDocument keeps, PROV relationship types between PROV
// nodes and attribution only of entities, and further only relations whose ends are of
// the classes PROV defines them between ($allowed, from provDomains): the graph also
// keeps revisions of agents and invalidations of activities, which are not PROV.
const exportRelFilter = `(m:Record OR m:Revision OR m:Entity OR m:Activity OR m:Agent) AND m.id IS NOT NULL
	AND type(r) + '|' + ` + classOfN + ` + '|' + ` + classOfM + ` IN $allowed`

const (
	classOfN = `CASE WHEN n:Activity THEN 'Activity' WHEN n:Agent THEN 'Agent' ELSE 'Entity' END`
	classOfM = `CASE WHEN m:Activity THEN 'Activity' WHEN m:Agent THEN 'Agent' ELSE 'Entity' END`
)

// exportRelGroup makes one statement of several relationships that say the same in PROV
// (a modeller acts for an organisation once per run: PROV has no place for the run).
const exportRelGroup = `WITH n, m, type(r) AS type,
		CASE WHEN type(r) IN $withRole THEN r.role END AS role,
		CASE WHEN type(r) IN $withTime THEN r.time END AS time,
		CASE WHEN type(r) IN $withPlan THEN r.plan END AS plan,
		min(elementId(r)) AS eid`

// provDomains are the classes of the ends of each PROV relation (PROV-DM §5); nil
// means any class.
var provDomains = map[prov.RelType][2]prov.Class{
	prov.Used: {prov.Activity, prov.Entity}, prov.WasGeneratedBy: {prov.Entity, prov.Activity},
	prov.WasAssociatedWith: {prov.Activity, prov.Agent}, prov.WasAttributedTo: {prov.Entity, prov.Agent},
	prov.ActedOnBehalfOf: {prov.Agent, prov.Agent}, prov.WasDerivedFrom: {prov.Entity, prov.Entity},
	prov.WasRevisionOf: {prov.Entity, prov.Entity}, prov.WasInformedBy: {prov.Activity, prov.Activity},
	prov.HadMember: {prov.Entity, prov.Entity}, prov.WasInvalidatedBy: {prov.Entity, prov.Activity},
	prov.WasStartedBy: {prov.Activity, prov.Entity}, prov.WasEndedBy: {prov.Activity, prov.Entity},
}

func (o exportOptions) params() map[string]any {
	var allowed, withRole, withTime, withPlan []string
	classes := []prov.Class{prov.Entity, prov.Activity, prov.Agent}
	for _, t := range prov.RelTypes() {
		d, ok := provDomains[t]
		for _, from := range classes {
			for _, to := range classes {
				if !ok || (d[0] == from && d[1] == to) {
					allowed = append(allowed, t.Neo4j()+"|"+string(from)+"|"+string(to))
				}
			}
		}
		role, at, plan := t.Allows()
		if role {
			withRole = append(withRole, t.Neo4j())
		}
		if at {
			withTime = append(withTime, t.Neo4j())
		}
		if plan {
			withPlan = append(withPlan, t.Neo4j())
		}
	}
	return map[string]any{"allowed": allowed, "withRole": withRole, "withTime": withTime, "withPlan": withPlan,
		"prefix": o.prefix + "/", "upper": o.prefix + "0", "limit": int64(o.pageSize)}
}

func (p *Provenance) export(ctx context.Context, enc prov.Encoder, progress func(done, total int64), o exportOptions) error {
	if o.pageSize <= 0 {
		o.pageSize = ExportPageSize
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	total, err := p.exportCount(ctx, o)
	if err != nil {
		return err
	}
	var done int64
	progress(0, total)
	encode := func(doc *prov.Document) error {
		n := len(doc.Nodes) + len(doc.Relations)
		if n == 0 {
			return nil
		}
		if err := enc.Encode(doc); err != nil {
			return provgraph.Wrap(provgraph.Internal, err, "the export could not be written")
		}
		done += int64(n)
		total = max(total, done)
		progress(done, total)
		return nil
	}
	for _, page := range []func(context.Context, exportGroup, cursor, exportOptions) (*prov.Document, cursor, bool, error){p.nodePage, p.relationPage} {
		for _, g := range exportGroups {
			c := cursor{k1: "", k2: -1}
			for {
				doc, next, more, err := page(ctx, g, c, o)
				if err != nil {
					return err
				}
				if err := encode(doc); err != nil {
					return err
				}
				if !more {
					break
				}
				c = next
			}
		}
	}
	if total != done {
		progress(done, done) // the count was an upper bound
	}
	return nil
}

// exportCount counts what an export will write, in one transaction: at most that, since
// repeated relations are counted before they are merged.
func (p *Provenance) exportCount(ctx context.Context, o exportOptions) (int64, error) {
	v, err := p.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		var total int64
		for _, g := range exportGroups {
			m := o.match(g, false)
			for _, q := range []string{
				m + " RETURN count(n) AS n",
				// Relations the export merges are counted each: grouping them here would hold
				// every relation of the graph in memory at once.
				m + " MATCH (n)-[r]->(m) WHERE " + exportRelFilter + " RETURN count(r) AS n",
			} {
				rec, err := run(ctx, tx, q, o.params())
				if err != nil {
					return nil, err
				}
				n, _ := rec.Get("n")
				c, _ := n.(int64)
				total += c
			}
		}
		return total, nil
	})
	if err != nil {
		return 0, err
	}
	return v.(int64), nil
}

// cursor is the key of the last node (or the start node of the last relation) read.
type cursor struct {
	k1   any
	k2   int64
	rel  string // the last relation's elementId; "" when none of that node's has been read
	past bool   // every relation of the node at k1, k2 has been read
	// window is how many start nodes a relation page reads (0: a page's worth). It
	// follows the degree of the nodes, so a page rarely reads relations it must drop.
	window int
}

func (o exportOptions) cursorParams(c cursor) map[string]any {
	params := o.params()
	params["k1"], params["k2"], params["rel"] = c.k1, c.k2, c.rel
	params["window"] = int64(c.window)
	if c.window <= 0 || c.window > o.pageSize {
		params["window"] = int64(o.pageSize)
	}
	return params
}

// nodePage reads the page of g's nodes after c.
func (p *Provenance) nodePage(ctx context.Context, g exportGroup, c cursor, o exportOptions) (*prov.Document, cursor, bool, error) {
	proj := make([]string, len(provNodeProps))
	for i, k := range provNodeProps {
		proj[i] = "." + k
	}
	q := fmt.Sprintf(`%s AND %s
		WITH n ORDER BY %s LIMIT $limit
		RETURN elementId(n) AS eid, labels(n) AS labels, n{%s} AS props, %s AS key`,
		o.match(g, true), g.after("gt"), g.order, strings.Join(proj, ", "), g.key)
	v, err := p.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		return collect(ctx, tx, q, o.cursorParams(c))
	})
	if err != nil {
		return nil, c, false, err
	}
	recs := v.([]*neo4j.Record)
	doc := &prov.Document{Nodes: make([]prov.Node, 0, len(recs))}
	for _, r := range recs {
		eid, _ := r.Get("eid")
		ls, _ := r.Get("labels")
		props, _ := r.Get("props")
		n := dbtype.Node{ElementId: eid.(string), Props: props.(map[string]any)}
		for _, l := range ls.([]any) {
			n.Labels = append(n.Labels, l.(string))
		}
		doc.Nodes = append(doc.Nodes, provNode(n))
	}
	if len(recs) < o.pageSize {
		return doc, c, false, nil
	}
	key, _ := recs[len(recs)-1].Get("key")
	return doc, g.cursor(key), true, nil
}

func (g exportGroup) cursor(key any) cursor {
	k := key.([]any)
	c := cursor{k1: k[0], k2: -1}
	if g.k2 {
		c.k2, _ = k[1].(int64)
	}
	return c
}

// relationPage reads the page of relations out of g's nodes after c: relations are
// ordered by their start node's key, then by elementId, so a node with more relations
// than a page spans pages.
func (p *Provenance) relationPage(ctx context.Context, g exportGroup, c cursor, o exportOptions) (*prov.Document, cursor, bool, error) {
	window := g.after("ge")
	if c.past {
		window = g.after("gt")
	}
	q := fmt.Sprintf(`%s AND %s
		WITH n ORDER BY %s LIMIT $window
		WITH collect(n) AS ns
		CALL (ns) {
			UNWIND ns AS n
			MATCH (n)-[r]->(m)
			WHERE %s
			%s
			WHERE %s OR eid > $rel
			WITH n, m, type, role, time, plan, eid ORDER BY %s, eid LIMIT $limit
			RETURN collect({type: type, eid: eid, role: role, time: time, plan: plan,
				from: n.id, fromVersion: n.version, fromRevision: n:Revision, fromEntity: NOT (n:Activity OR n:Agent),
				to: m.id, toVersion: m.version, toRevision: m:Revision, key: %s}) AS rels
		}
		WITH ns[-1] AS n, size(ns) AS seen, rels
		RETURN seen, CASE WHEN n IS NULL THEN null ELSE %s END AS last, rels`,
		o.match(g, true), window, g.order, exportRelFilter, exportRelGroup, g.after("gt"), g.order, g.key, g.key)
	v, err := p.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		return run(ctx, tx, q, o.cursorParams(c))
	})
	if err != nil {
		return nil, c, false, err
	}
	rec := v.(*neo4j.Record)
	seenV, _ := rec.Get("seen")
	seen, _ := seenV.(int64)
	relsV, _ := rec.Get("rels")
	rels, _ := relsV.([]any)
	doc := &prov.Document{Relations: make([]prov.Relation, 0, len(rels))}
	var last map[string]any
	starts := 0
	for _, x := range rels {
		m := x.(map[string]any)
		if last == nil || fmt.Sprint(last["key"]) != fmt.Sprint(m["key"]) {
			starts++
		}
		last = m
		r := dbtype.Relationship{Type: m["type"].(string), Props: map[string]any{"role": m["role"], "time": m["time"], "plan": m["plan"]}}
		from := endID(m["from"], m["fromVersion"], m["fromRevision"])
		to := endID(m["to"], m["toVersion"], m["toRevision"])
		fromEntity, _ := m["fromEntity"].(bool)
		if rel, ok := provRelation(r, from, to, fromEntity); ok {
			doc.Relations = append(doc.Relations, rel)
		}
	}
	pageWindow := o.cursorParams(c)["window"].(int64)
	switch {
	case len(rels) == o.pageSize:
		next := g.cursor(last["key"])
		next.rel = last["eid"].(string)
		next.window = 2 * starts
		return doc, next, true, nil
	case seen < pageWindow:
		return doc, c, false, nil
	default:
		// Every relation of the nodes in this window has been read: go past them.
		lastKey, _ := rec.Get("last")
		next := g.cursor(lastKey)
		next.past = true
		next.window = 2 * int(pageWindow)
		return doc, next, true, nil
	}
}

// endID is provID for the end of a relationship read as a projection.
func endID(id, version, revision any) string {
	n := dbtype.Node{Props: map[string]any{"id": id, "version": version}}
	if r, _ := revision.(bool); r {
		n.Labels = []string{"Revision"}
	}
	return provID(n)
}

// Kind returns the kind label of the record with this id (current, superseded or
// deleted) that the viewer may read, or a not-found error.
func (p *Provenance) Kind(ctx context.Context, id string, who registry.Viewer) (string, error) {
	v, err := p.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		rec, err := run(ctx, tx, `OPTIONAL MATCH (r:Record {id:$id}) WHERE `+readable("r")+` RETURN r.kind AS kind`,
			map[string]any{"id": id, "viewer": viewerParam(who)})
		if err != nil {
			return nil, err
		}
		return str(rec, "kind"), nil
	})
	if err != nil {
		return "", err
	}
	if v.(string) == "" {
		return "", provgraph.Errorf(provgraph.NotFound, "no record with id %q", id)
	}
	return v.(string), nil
}
