package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"provgraph"
	"provgraph/registry"
)

// Entities stores registry records.
type Entities struct {
	DB  *DB
	IDs *registry.IDs
	// Cache, if not nil, is told of records created, changed and deleted, so that model
	// runs naming them need not read them.
	Cache *RecordCache
}

var _ registry.Store = (*Entities)(nil)

// Create stores version 1 of a record, its references and its attribution. With an
// idempotency key, a repeat returns the first record.
func (s *Entities) Create(ctx context.Context, w registry.Write) (registry.Record, error) {
	var created map[string]any // the properties written, once committed
	v, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		if w.IdemKey != "" {
			firsts, err := claimIdempotencyKeys(ctx, tx, []idemClaim{{subject: w.Actor.Subject, kind: w.Kind.Name, key: w.IdemKey, id: w.ID, body: string(w.Raw), now: w.Time}})
			if err != nil {
				return nil, err
			}
			if f := firsts[0]; f.err != nil || f.id != "" {
				if f.err != nil {
					return nil, f.err
				}
				return getRecord(ctx, tx, w.Kind, f.id, 0, w.Actor.Viewer)
			}
		}
		refs, user, props, err := prepareWrite(ctx, tx, w)
		if err != nil {
			return nil, err
		}
		props["version"] = 1
		props["created_at"] = w.Time
		props["created_by"] = w.Actor.Subject
		if _, err := run(ctx, tx, fmt.Sprintf(`
			MATCH (u:User {subject:$subject})
			CREATE (r%s) SET r = $props
			CREATE (r)-[:WAS_ATTRIBUTED_TO {role:'creator', time:$now}]->(u)`, labels(w.Kind.Labels())),
			map[string]any{"subject": user, "props": props, "now": w.Time}); err != nil {
			return nil, err
		}
		if err := linkRefs(ctx, tx, w.ID, 1, refs, w.Time); err != nil {
			return nil, err
		}
		rec, err := getRecord(ctx, tx, w.Kind, w.ID, 0, registry.Everyone)
		if err == nil {
			created = props
		}
		return rec, err
	})
	if err != nil {
		return registry.Record{}, err
	}
	if created != nil { // not an idempotent replay
		s.Cache.keepCreated(w.Kind.Labels(), created)
	}
	return v.(registry.Record), nil
}

// Update makes a new version that WAS_REVISION_OF the current one. The old version
// keeps its relationships: whatever used it, used that version.
func (s *Entities) Update(ctx context.Context, w registry.Write) (registry.Record, error) {
	v, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		cur, err := getRecord(ctx, tx, w.Kind, w.ID, 0, w.Actor.Viewer)
		if err != nil {
			return nil, err
		}
		refs, user, props, err := prepareWrite(ctx, tx, w)
		if err != nil {
			return nil, err
		}
		props["version"] = cur.Version + 1
		props["created_at"] = cur.CreatedAt
		props["created_by"] = cur.CreatedBy
		props["reason"] = w.Reason
		res, err := run(ctx, tx, fmt.Sprintf(`
			MATCH (old:Record {id:$id, version:$version})
			WHERE old.deleted_at IS NULL
			REMOVE old:Record SET old:Revision
			WITH old
			MATCH (u:User {subject:$subject})
			CREATE (r%s) SET r = $props
			CREATE (r)-[:WAS_REVISION_OF {time:$now, reason:$reason}]->(old)
			CREATE (r)-[:WAS_ATTRIBUTED_TO {role:'reviser', time:$now}]->(u)
			`+copyAccess+`
			RETURN count(r) AS n`, labels(w.Kind.Labels())),
			map[string]any{"id": w.ID, "version": cur.Version, "subject": user, "props": props, "now": w.Time, "reason": w.Reason})
		if err != nil {
			return nil, err
		}
		if n, _ := res.Get("n"); n != int64(1) {
			return nil, provgraph.Errorf(provgraph.Conflict, "%s %s changed while this update ran; retry", w.Kind.Name, w.ID)
		}
		if err := linkRefs(ctx, tx, w.ID, cur.Version+1, refs, w.Time); err != nil {
			return nil, err
		}
		return getRecord(ctx, tx, w.Kind, w.ID, 0, registry.Everyone)
	})
	s.Cache.forget([]string{w.ID}) // the version it holds is gone
	if err != nil {
		return registry.Record{}, err
	}
	return v.(registry.Record), nil
}

// Get reads one version (0: the latest).
func (s *Entities) Get(ctx context.Context, k registry.Kind, id string, version int, viewer registry.Viewer) (registry.Record, error) {
	v, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		return getRecord(ctx, tx, k, id, version, viewer)
	})
	if err != nil {
		return registry.Record{}, err
	}
	return v.(registry.Record), nil
}

// History lists every version, newest first.
func (s *Entities) History(ctx context.Context, k registry.Kind, id string, viewer registry.Viewer) ([]registry.Record, error) {
	v, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, fmt.Sprintf(`
			MATCH (r:%s {id:$id}) WHERE (r:Record OR r:Revision) AND `+readable("r")+`
			RETURN r ORDER BY r.version DESC`, label(k.Label)), map[string]any{"id": id, "viewer": viewerParam(viewer)})
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, registry.ErrNotFound(k.Name, id)
		}
		out := make([]registry.Record, 0, len(recs))
		for _, r := range recs {
			out = append(out, toRecord(k, r.Values[0].(dbtype.Node)))
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]registry.Record), nil
}

// List reads one page by keyset: (sort value, id) after the cursor, so pages neither
// repeat nor skip rows while others insert.
func (s *Entities) List(ctx context.Context, q registry.ListQuery) (registry.Page, error) {
	where := []string{"r.deleted_at IS NULL", readable("r")}
	params := map[string]any{"limit": q.PageSize + 1, "viewer": viewerParam(q.Viewer)}
	if q.NameContains != "" {
		where = append(where, "toLower(r.name) CONTAINS toLower($name)")
		params["name"] = q.NameContains
	}
	keys := make([]string, 0, len(q.Filters))
	for p := range q.Filters {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	for i, p := range keys {
		f, _ := q.Kind.FilterByParam(p)
		param := fmt.Sprintf("f%d", i)
		if f.List {
			where = append(where, fmt.Sprintf("$%s IN r.%s", param, property(f.Param)))
		} else {
			where = append(where, fmt.Sprintf("r.%s = $%s", property(f.Param), param))
		}
		params[param] = q.Filters[p]
	}
	field := property(q.SortField)
	op, dir := ">", "ASC"
	if q.Desc {
		op, dir = "<", "DESC"
	}
	if q.After != nil {
		var after any = q.After.Value
		if q.SortField != "name" {
			t, _ := time.Parse(time.RFC3339Nano, q.After.Value)
			after = t
		}
		params["after"], params["after_id"] = after, q.After.ID
		where = append(where, fmt.Sprintf("(r.%[1]s %[2]s $after OR (r.%[1]s = $after AND r.id %[2]s $after_id))", field, op))
	}
	cypher := fmt.Sprintf("MATCH (r:Record:%s) WHERE %s RETURN r ORDER BY r.%s %s, r.id %s LIMIT $limit",
		label(q.Kind.Label), strings.Join(where, " AND "), field, dir, dir)
	v, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, cypher, params)
		if err != nil {
			return nil, err
		}
		page := registry.Page{Records: []registry.Record{}}
		for i, r := range recs {
			if i == q.PageSize {
				page.NextPageToken = q.NextToken(page.Records[i-1])
				break
			}
			page.Records = append(page.Records, toRecord(q.Kind, r.Values[0].(dbtype.Node)))
		}
		return page, nil
	})
	if err != nil {
		return registry.Page{}, err
	}
	return v.(registry.Page), nil
}

// Delete invalidates a record: it stays in the graph, with its history, but is no longer
// current. It is refused while a current record depends on any of its versions.
func (s *Entities) Delete(ctx context.Context, k registry.Kind, id string, actor registry.Actor, reason string, at time.Time) error {
	activity := s.IDs.New(at)
	_, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		return nil, invalidate(ctx, tx, k.Name, id, actor, reason, at, activity, func() error {
			_, err := getRecord(ctx, tx, k, id, 0, actor.Viewer)
			return err
		})
	})
	s.Cache.forget([]string{id})
	return err
}

// invalidate marks a record deleted, WAS_INVALIDATED_BY a :Deletion activity, unless a
// current record depends on it. check runs after the locks are taken and before the
// dependents are read: it may refuse too.
func invalidate(ctx context.Context, tx neo4j.ManagedTransaction, kind, id string, actor registry.Actor, reason string, at time.Time, activity string, check func() error) error {
	// Lock first (the record and every guard of it, which writes naming it lock one of)
	// so a concurrent write that references the record is either seen below or waits for
	// this invalidation.
	if err := lockRecords(ctx, tx, []string{id}); err != nil {
		return err
	}
	if err := lockGuards(ctx, tx, guardKeys(id)); err != nil {
		return err
	}
	if err := check(); err != nil {
		return err
	}
	deps, err := dependents(ctx, tx, id, actor.Viewer)
	if err != nil {
		return err
	}
	if len(deps) > 0 {
		names := make([]string, 0, len(deps))
		for _, d := range deps {
			names = append(names, fmt.Sprintf("%s %s (%s)", d.Kind, d.ID, d.Relation))
		}
		return provgraph.Errorf(provgraph.Conflict, "%s %s cannot be deleted while these depend on it: %s", kind, id, strings.Join(names, "; "))
	}
	user, err := mergeUser(ctx, tx, actor)
	if err != nil {
		return err
	}
	_, err = run(ctx, tx, `
		MATCH (r:Record {id:$id}), (u:User {subject:$subject})
		SET r.deleted_at = $now, r.deleted_by = $subject, r.delete_reason = $reason
		CREATE (a:Activity:Deletion {id:$activity, startedAtTime:$now, endedAtTime:$now, reason:$reason})
		CREATE (r)-[:WAS_INVALIDATED_BY {time:$now}]->(a)
		CREATE (a)-[:WAS_ASSOCIATED_WITH {role:'deleter'}]->(u)
		RETURN count(*) AS n`,
		map[string]any{"id": id, "subject": user, "now": at, "reason": reason, "activity": activity})
	return err
}

// dependents are current records with a relationship to any version of id; one the
// viewer may not read is counted but not named.
func dependents(ctx context.Context, tx neo4j.ManagedTransaction, id string, v registry.Viewer) ([]registry.Dependent, error) {
	// What an activity generated does not stop its deletion; what used those outputs does.
	recs, err := collect(ctx, tx, `
		CALL () {
			MATCH (v:Record {id:$id}) RETURN v
			UNION
			MATCH (v:Revision {id:$id}) RETURN v
		}
		CALL (v) {
			MATCH (d:Record)-[rel]->(v)
			WHERE NOT type(rel) IN ['WAS_REVISION_OF', 'WAS_GENERATED_BY', 'WAS_INVALIDATED_BY']
			RETURN d, type(rel) AS relation
			UNION
			MATCH (o)-[:WAS_GENERATED_BY]->(v), (d:Record)-[:USED]->(o)
			RETURN d, 'USED ' + o.id AS relation
		}
		WITH DISTINCT d, relation WHERE d.id <> $id AND d.deleted_at IS NULL
		WITH d, relation, `+readable("d")+` AS visible
		RETURN CASE WHEN visible THEN d.id ELSE '(a record you may not read)' END AS id,
			CASE WHEN visible THEN d.kind ELSE 'record' END AS kind,
			CASE WHEN visible THEN relation ELSE 'depends on it' END AS relation
		ORDER BY visible DESC, d.id LIMIT 50`, map[string]any{"id": id, "viewer": viewerParam(v)})
	if err != nil {
		return nil, err
	}
	out := make([]registry.Dependent, 0, len(recs))
	for _, r := range recs {
		out = append(out, registry.Dependent{ID: str(r, "id"), Kind: str(r, "kind"), Relation: str(r, "relation")})
	}
	return out, nil
}

// idemClaim is one Idempotency-Key to claim for the record about to be written.
type idemClaim struct {
	at                           int // index of the record in its request
	subject, kind, key, id, body string
	now                          time.Time
}

// idemFirst is what a claim found: the id of the record first written under the key, or
// an error when the key was used with another body. Zero when this transaction is first.
type idemFirst struct {
	id  string
	err error
}

// claimIdempotencyKeys claims keys in one statement, in key order so that racing claims
// never deadlock; the unique constraint serialises them.
func claimIdempotencyKeys(ctx context.Context, tx neo4j.ManagedTransaction, claims []idemClaim) (map[int]idemFirst, error) {
	out := map[int]idemFirst{}
	if len(claims) == 0 {
		return out, nil
	}
	rows := make([]map[string]any, 0, len(claims))
	for _, c := range claims {
		rows = append(rows, map[string]any{"at": c.at, "key": c.subject + "\x00" + c.kind + "\x00" + c.key, "id": c.id, "body": c.body, "now": c.now})
	}
	slices.SortFunc(rows, func(a, b map[string]any) int { return strings.Compare(a["key"].(string), b["key"].(string)) })
	recs, err := collect(ctx, tx, `
		UNWIND $claims AS c
		MERGE (k:IdempotencyKey {key:c.key})
		ON CREATE SET k.record_id = c.id, k.body = c.body, k.created_at = c.now
		RETURN c.at AS at, c.id AS mine, k.record_id AS id, k.body = c.body AS same`, map[string]any{"claims": rows})
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		at, _ := r.Get("at")
		i := int(at.(int64))
		if str(r, "id") == str(r, "mine") {
			continue
		}
		if same, _ := r.Get("same"); same != true {
			out[i] = idemFirst{err: provgraph.Errorf(provgraph.Conflict, "Idempotency-Key %q was already used with a different body", claims[slices.IndexFunc(claims, func(c idemClaim) bool { return c.at == i })].key)}
			continue
		}
		out[i] = idemFirst{id: str(r, "id")}
	}
	return out, nil
}

// checkRefs reports every reference that is missing (or that the viewer may not read),
// deleted or of the wrong kind. One
// guard of each referenced record is locked first so that none is deleted before this
// commits (a delete locks every guard), while writes naming the same organisation do not
// wait on each other.
func checkRefs(ctx context.Context, tx neo4j.ManagedTransaction, refs []registry.Ref, v registry.Viewer) error {
	if len(refs) == 0 {
		return nil
	}
	ids := make([]string, 0, len(refs))
	list := make([]map[string]any, 0, len(refs))
	for _, r := range refs {
		ids = append(ids, r.ID)
		list = append(list, map[string]any{"pointer": r.Pointer, "id": r.ID, "kind": r.Kind})
	}
	if err := lockGuards(ctx, tx, stripeKeys(ids)); err != nil {
		return err
	}
	recs, err := collect(ctx, tx, `
		UNWIND $refs AS ref
		OPTIONAL MATCH (n:Record {id: ref.id}) WHERE `+readable("n")+`
		RETURN ref.pointer AS pointer, ref.id AS id, ref.kind AS want, n.kind AS kind, n IS NOT NULL AS found, n.deleted_at IS NOT NULL AS deleted`,
		map[string]any{"refs": list, "viewer": viewerParam(v)})
	if err != nil {
		return err
	}
	var errs []provgraph.FieldError
	for _, r := range recs {
		ptr, id, want := str(r, "pointer"), str(r, "id"), str(r, "want")
		found, _ := r.Get("found")
		deleted, _ := r.Get("deleted")
		switch {
		case found != true:
			errs = append(errs, provgraph.FieldError{Path: ptr, Message: fmt.Sprintf("no record with id %q", id)})
		case deleted == true:
			errs = append(errs, provgraph.FieldError{Path: ptr, Message: fmt.Sprintf("%s was deleted", id)})
		case str(r, "kind") != want:
			errs = append(errs, provgraph.FieldError{Path: ptr, Message: fmt.Sprintf("%s is a %s, not a %s", id, str(r, "kind"), want)})
		}
	}
	if len(errs) > 0 {
		return provgraph.InvalidFields("the record refers to records that cannot be used", errs)
	}
	return nil
}

// linkRefs creates one relationship per reference from the given version.
func linkRefs(ctx context.Context, tx neo4j.ManagedTransaction, id string, version int, refs []registry.Ref, at time.Time) error {
	byRel := map[string][]map[string]any{}
	for _, r := range refs {
		byRel[r.Rel] = append(byRel[r.Rel], map[string]any{"id": r.ID, "role": r.Role, "pointer": r.Pointer})
	}
	rels := make([]string, 0, len(byRel))
	for rel := range byRel {
		rels = append(rels, rel)
	}
	slices.Sort(rels)
	for _, rel := range rels {
		if _, err := tx.Run(ctx, fmt.Sprintf(`
			MATCH (r:Record {id:$id, version:$version})
			UNWIND $refs AS ref
			MATCH (t:Record {id: ref.id})
			CREATE (r)-[:%s {role: ref.role, field: ref.pointer, time: $now}]->(t)`, relType(rel)),
			map[string]any{"id": id, "version": version, "refs": byRel[rel], "now": at}); err != nil {
			return err
		}
	}
	return nil
}

// lockRecords takes write locks on the current versions of ids, in id order so that two
// transactions never wait on each other in a cycle.
func lockRecords(ctx context.Context, tx neo4j.ManagedTransaction, ids []string) error {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	_, err := tx.Run(ctx, `
		UNWIND $ids AS id
		MATCH (n:Record {id:id})
		SET n.locked_ = true REMOVE n.locked_`, map[string]any{"ids": ids})
	return err
}

// mergeUser makes sure the acting principal exists as a PROV agent and returns its subject.
func mergeUser(ctx context.Context, tx neo4j.ManagedTransaction, a registry.Actor) (string, error) {
	if a.Subject == "" {
		return "", provgraph.Errorf(provgraph.Internal, "write without an actor")
	}
	_, err := run(ctx, tx, `
		MERGE (u:User:Agent {subject:$subject})
		ON CREATE SET u.id = $id, u.name = $name, u.kind = 'User'`,
		map[string]any{"subject": a.Subject, "id": "agents/" + a.Subject, "name": a.Name})
	return a.Subject, err
}

// getRecord reads one version (0: the latest) of a record the viewer may read. A model
// run's stored PROV-JSON names what it used and made; it is left out when the viewer may
// not read one of those (the run's PROV document, filtered, is one link away).
func getRecord(ctx context.Context, tx neo4j.ManagedTransaction, k registry.Kind, id string, version int, v registry.Viewer) (registry.Record, error) {
	match := fmt.Sprintf("MATCH (r:Record:%s {id:$id}) WHERE %s", label(k.Label), readable("r"))
	params := map[string]any{"id": id, "viewer": viewerParam(v)}
	if version > 0 {
		match = fmt.Sprintf("MATCH (r:%s {id:$id, version:$version}) WHERE (r:Record OR r:Revision) AND %s", label(k.Label), readable("r"))
		params["version"] = version
	}
	cypher := match + `
		RETURN r, CASE WHEN r:ModelRun AND NOT $viewer.all THEN EXISTS {
			MATCH (r)--(x:Restricted) WHERE NOT ` + readable("x") + ` RETURN x
			UNION
			MATCH (r)-[:WAS_ASSOCIATED_WITH]->()-[:ACTED_ON_BEHALF_OF {activity:r.id}]->(x:Restricted) WHERE NOT ` + readable("x") + ` RETURN x
		} ELSE false END AS hides`
	recs, err := collect(ctx, tx, cypher, params)
	if err != nil {
		return registry.Record{}, err
	}
	if len(recs) == 0 {
		if version > 0 {
			return registry.Record{}, provgraph.Errorf(provgraph.NotFound, "no version %d of %s %q", version, k.Name, id)
		}
		return registry.Record{}, registry.ErrNotFound(k.Name, id)
	}
	rec := toRecord(k, recs[0].Values[0].(dbtype.Node))
	if hides, _ := recs[0].Get("hides"); hides != true {
		rec = withProvJSON(rec, recs[0].Values[0].(dbtype.Node))
	}
	if version == 0 && rec.DeletedAt != nil {
		return registry.Record{}, provgraph.Errorf(provgraph.NotFound, "%s %q was deleted at %s; its history remains", k.Name, id, rec.DeletedAt.Format(time.RFC3339))
	}
	return rec, nil
}

// prepareWrite checks a version's references, makes sure its author exists and returns
// the node properties every version has.
func prepareWrite(ctx context.Context, tx neo4j.ManagedTransaction, w registry.Write) ([]registry.Ref, string, map[string]any, error) {
	refs := w.Kind.References(w.Doc)
	errs := slices.Clone(w.Found)
	if err := checkRefs(ctx, tx, refs, w.Actor.Viewer); err != nil {
		var e *provgraph.Error
		if !errors.As(err, &e) || e.Code != provgraph.Invalid {
			return nil, "", nil, err
		}
		errs = append(errs, e.Fields...)
	}
	if len(errs) > 0 {
		return nil, "", nil, provgraph.InvalidFields(fmt.Sprintf("the %s is not valid; every violation is listed", w.Kind.Name), errs)
	}
	user, err := mergeUser(ctx, tx, w.Actor)
	if err != nil {
		return nil, "", nil, err
	}
	return refs, user, recordProps(w), nil
}

func recordProps(w registry.Write) map[string]any {
	props := map[string]any{
		"id":         w.ID,
		"kind":       w.Kind.Label,
		"name":       w.Kind.DisplayName(w.Doc),
		"document":   string(w.Raw),
		"updated_at": w.Time,
		"updated_by": w.Actor.Subject,
	}
	for k, v := range w.Kind.Properties(w.Doc) {
		props[property(k)] = v
	}
	return props
}

func toRecord(k registry.Kind, n dbtype.Node) registry.Record {
	p := n.Props
	r := registry.Record{
		ID:        fmt.Sprint(p["id"]),
		Kind:      k.Name,
		Name:      strProp(p, "name"),
		Record:    json.RawMessage(strProp(p, "document")),
		CreatedBy: strProp(p, "created_by"),
		UpdatedBy: strProp(p, "updated_by"),
		Reason:    strProp(p, "reason"),
		Latest:    slices.Contains(n.Labels, "Record"),
	}
	if v, ok := p["version"].(int64); ok {
		r.Version = int(v)
	}
	r.CreatedAt, _ = p["created_at"].(time.Time)
	r.UpdatedAt, _ = p["updated_at"].(time.Time)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	if t, ok := p["deleted_at"].(time.Time); ok {
		t = t.UTC()
		r.DeletedAt = &t
	}
	return r
}

// collect runs one statement and reads all its rows.
func collect(ctx context.Context, tx neo4j.ManagedTransaction, cypher string, params map[string]any) ([]*neo4j.Record, error) {
	res, err := tx.Run(ctx, cypher, params)
	if err != nil {
		return nil, err
	}
	return res.Collect(ctx)
}

// run runs one statement and returns its first row (an empty record when none).
func run(ctx context.Context, tx neo4j.ManagedTransaction, cypher string, params map[string]any) (*neo4j.Record, error) {
	recs, err := collect(ctx, tx, cypher, params)
	if err != nil || len(recs) == 0 {
		return &neo4j.Record{}, err
	}
	return recs[0], nil
}

func str(r *neo4j.Record, key string) string {
	v, _ := r.Get(key)
	s, _ := v.(string)
	return s
}

func strProp(p map[string]any, key string) string {
	s, _ := p[key].(string)
	return s
}

// property guards property names taken from our closed tables.
func property(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_') {
			panic("graph: not a property: " + s)
		}
	}
	return s
}

// relType guards relationship types taken from our closed tables.
func relType(s string) string {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r == '_') {
			panic("graph: not a relationship type: " + s)
		}
	}
	return s
}
