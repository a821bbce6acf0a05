package graph

import (
	"context"
	"fmt"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"provgraph"
	"provgraph/registry"
)

// A record restricted to groups carries the label :Restricted and the property
// read_groups on every one of its versions. The label keeps the check cheap where almost
// nothing is restricted: it is read from the node itself, without its properties.

// readable is the Cypher condition under which the viewer in $viewer may read node n.
func readable(n string) string {
	return fmt.Sprintf("(NOT %[1]s:Restricted OR $viewer.all OR any(g IN %[1]s.read_groups WHERE g IN $viewer.groups))", n)
}

// viewerParam is $viewer for readable.
func viewerParam(v registry.Viewer) map[string]any {
	groups := v.Groups
	if groups == nil {
		groups = []string{}
	}
	return map[string]any{"all": v.All, "groups": groups}
}

// copyAccess gives a new version r the access list of the version old it replaces.
const copyAccess = `FOREACH (_ IN CASE WHEN old:Restricted THEN [1] ELSE [] END | SET r:Restricted, r.read_groups = old.read_groups)`

// Access reads and sets who may read a record.
type Access struct {
	DB *DB
	// Cache, if not nil, drops a record whose list changed (its entry would cost the next
	// registration naming it a retry).
	Cache *RecordCache
}

// Get is the access list of a record the viewer may read.
func (s *Access) Get(ctx context.Context, id string, v registry.Viewer) (registry.Access, error) {
	val, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, `
			MATCH (r:Record {id:$id}) WHERE `+readable("r")+`
			RETURN coalesce(r.read_groups, []) AS groups`, map[string]any{"id": id, "viewer": viewerParam(v)})
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, provgraph.Errorf(provgraph.NotFound, "no record with id %q", id)
		}
		return registry.Access{ID: id, ReadGroups: strs(recs[0], "groups")}, nil
	})
	if err != nil {
		return registry.Access{}, err
	}
	return val.(registry.Access), nil
}

// Set restricts every version of a record to groups (none: open to every reader). Only
// its creator or an admin may; the change is stamped on the record.
func (s *Access) Set(ctx context.Context, id string, groups []string, actor registry.Actor, at time.Time) (registry.Access, error) {
	_, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		if err := lockRecords(ctx, tx, []string{id}); err != nil {
			return nil, err
		}
		recs, err := collect(ctx, tx, `
			MATCH (r:Record {id:$id}) WHERE `+readable("r")+`
			RETURN r.created_by AS creator, r:Run AS run`, map[string]any{"id": id, "viewer": viewerParam(actor.Viewer)})
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, provgraph.Errorf(provgraph.NotFound, "no record with id %q", id)
		}
		if run, _ := recs[0].Get("run"); run == true {
			// A run's own routes (its events, metrics, artifacts) do not check access yet.
			return nil, provgraph.Errorf(provgraph.Invalid, "%s is a tracked run; access lists are for registered records and model runs", id)
		}
		if !actor.Viewer.All && str(recs[0], "creator") != actor.Subject {
			return nil, provgraph.Errorf(provgraph.Forbidden, "only the creator of %s or an admin may change who reads it", id)
		}
		if groups, err = registry.CheckReadGroups(groups, actor.Viewer); err != nil {
			return nil, err
		}
		return run(ctx, tx, `
			MATCH (n {id:$id}) WHERE n:Record OR n:Revision
			FOREACH (_ IN CASE WHEN size($groups) > 0 THEN [1] ELSE [] END | SET n:Restricted, n.read_groups = $groups)
			FOREACH (_ IN CASE WHEN size($groups) = 0 THEN [1] ELSE [] END | REMOVE n:Restricted, n.read_groups)
			SET n.access_updated_at = $now, n.access_updated_by = $subject
			RETURN count(n) AS n`, map[string]any{"id": id, "groups": groups, "now": at.UTC(), "subject": actor.Subject})
	})
	if err != nil {
		return registry.Access{}, err
	}
	if groups == nil {
		groups = []string{}
	}
	s.Cache.forget([]string{id})
	return registry.Access{ID: id, ReadGroups: groups}, nil
}

// hiddenFrom says whether the viewer may not read some record that exists: Cypher reads
// the whole graph, so it is open only to those who may read all of it.
func hiddenFrom(ctx context.Context, tx interface {
	Run(context.Context, string, map[string]any) (neo4j.ResultWithContext, error)
}, v registry.Viewer) (bool, error) {
	if v.All {
		return false, nil
	}
	res, err := tx.Run(ctx, `MATCH (n:Restricted) WHERE NOT `+readable("n")+` RETURN 1 LIMIT 1`,
		map[string]any{"viewer": viewerParam(v)})
	if err != nil {
		return false, err
	}
	recs, err := res.Collect(ctx)
	return len(recs) > 0, err
}

// strs reads a list of strings from a record.
func strs(r *neo4j.Record, key string) []string {
	v, _ := r.Get(key)
	return stringList(v)
}

// stringList is the strings of a list property.
func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
