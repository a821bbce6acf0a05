package graph

import (
	"context"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"provgraph"
	"provgraph/registry"
	"provgraph/runs"
)

// AddArtifact records an uploaded file as an (:Artifact:Entity) record the run generated
// and its executor is attributed. The run is locked; its state and executor are checked
// by runs.CheckArtifactUpload, and the write is again conditional on the state.
func (s *Runs) AddArtifact(ctx context.Context, c runs.ArtifactCreate) (runs.Artifact, error) {
	at := c.Time.UTC()
	id := s.IDs.New(at)
	states := make([]string, 0, 2)
	for _, st := range runs.ArtifactStates() {
		states = append(states, string(st))
	}
	v, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		cur, err := run(ctx, tx, `
			OPTIONAL MATCH (r:Record:Run {id:$run})
			CALL (r) { WITH r WHERE r IS NOT NULL SET r.locked_ = true REMOVE r.locked_ }
			RETURN r IS NOT NULL AS found, r.state AS state, r.executor AS executor, r.deleted_at IS NOT NULL AS deleted,
				r IS NOT NULL AND EXISTS { MATCH (:Artifact {name:$name, run_id:$run})-[:WAS_GENERATED_BY]->(r) } AS taken`,
			map[string]any{"run": c.RunID, "name": c.Name})
		if err != nil {
			return nil, err
		}
		if found, _ := cur.Get("found"); found != true {
			return nil, registry.ErrNotFound("run", c.RunID)
		}
		if deleted, _ := cur.Get("deleted"); deleted == true {
			return nil, provgraph.Errorf(provgraph.NotFound, "run %q was deleted", c.RunID)
		}
		state := str(cur, "state")
		if err := runs.CheckArtifactUpload(c.RunID, runs.State(state), str(cur, "executor"), c.Actor.Subject, c.Admin); err != nil {
			return nil, err
		}
		if taken, _ := cur.Get("taken"); taken == true {
			return nil, runs.ErrArtifactExists(c.RunID, c.Name)
		}
		props := map[string]any{
			"id": id, "kind": "Artifact", "version": 1, "name": c.Name, "run_id": c.RunID, "sha256": c.SHA256, "size": c.Size,
			"media_type": c.MediaType, "created_at": at, "created_by": c.Actor.Subject, "updated_at": at, "updated_by": c.Actor.Subject,
		}
		rec, err := run(ctx, tx, `
			MERGE (u:User:Agent {subject:$subject})
			ON CREATE SET u.id = $user, u.name = $uname, u.kind = 'User'
			WITH u
			MATCH (r:Record:Run {id:$run}) WHERE r.state = $state AND r.state IN $states
			CREATE (a:Record:Artifact:Entity) SET a = $props
			CREATE (a)-[:WAS_GENERATED_BY {role:$name, time:$now}]->(r)
			CREATE (a)-[:WAS_ATTRIBUTED_TO {role:'executor', time:$now}]->(u)
			RETURN a`,
			map[string]any{"subject": c.Actor.Subject, "user": "agents/" + c.Actor.Subject, "uname": c.Actor.Name, "run": c.RunID,
				"state": state, "states": states, "props": props, "name": c.Name, "now": at})
		if err != nil {
			return nil, err
		}
		a, _ := rec.Get("a")
		n, ok := a.(dbtype.Node)
		if !ok { // the run is locked, so this would be a bug
			return nil, provgraph.Errorf(provgraph.Conflict, "run %s changed while the artifact was being added; retry", c.RunID)
		}
		return toArtifact(n), nil
	})
	if err != nil {
		return runs.Artifact{}, err
	}
	return v.(runs.Artifact), nil
}

// ListArtifacts reads a run's artifacts, by name.
func (s *Runs) ListArtifacts(ctx context.Context, runID string) ([]runs.Artifact, error) {
	v, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		return collect(ctx, tx, `
			MATCH (r:Record:Run {id:$run})
			OPTIONAL MATCH (a:Artifact {run_id:$run})-[:WAS_GENERATED_BY]->(r)
			WITH r, a ORDER BY a.name
			RETURN r.deleted_at AS deleted_at, collect(a) AS artifacts`, map[string]any{"run": runID})
	})
	if err != nil {
		return nil, err
	}
	recs := v.([]*neo4j.Record)
	if len(recs) == 0 {
		return nil, registry.ErrNotFound("run", runID)
	}
	if err := deletedRun(runID, recs[0]); err != nil {
		return nil, err
	}
	list, _ := recs[0].Get("artifacts")
	out := make([]runs.Artifact, 0, len(list.([]any)))
	for _, x := range list.([]any) {
		out = append(out, toArtifact(x.(dbtype.Node)))
	}
	return out, nil
}

// GetArtifact reads one artifact of a run by name.
func (s *Runs) GetArtifact(ctx context.Context, runID, name string) (runs.Artifact, error) {
	v, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		return collect(ctx, tx, `
			MATCH (r:Record:Run {id:$run})
			OPTIONAL MATCH (a:Artifact {run_id:$run, name:$name})-[:WAS_GENERATED_BY]->(r)
			RETURN r.deleted_at AS deleted_at, a LIMIT 1`, map[string]any{"run": runID, "name": name})
	})
	if err != nil {
		return runs.Artifact{}, err
	}
	recs := v.([]*neo4j.Record)
	if len(recs) == 0 {
		return runs.Artifact{}, registry.ErrNotFound("run", runID)
	}
	if err := deletedRun(runID, recs[0]); err != nil {
		return runs.Artifact{}, err
	}
	a, _ := recs[0].Get("a")
	n, ok := a.(dbtype.Node)
	if !ok {
		return runs.Artifact{}, provgraph.Errorf(provgraph.NotFound, "run %s has no artifact named %q", runID, name)
	}
	return toArtifact(n), nil
}

// deletedRun is the not-found error for a run that was deleted, as GetRun has it.
func deletedRun(runID string, rec *neo4j.Record) error {
	if t, _ := rec.Get("deleted_at"); t != nil {
		if at, ok := t.(time.Time); ok {
			return provgraph.Errorf(provgraph.NotFound, "run %q was deleted at %s; its history remains", runID, at.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

func toArtifact(n dbtype.Node) runs.Artifact {
	p := n.Props
	a := runs.Artifact{ID: strProp(p, "id"), RunID: strProp(p, "run_id"), Name: strProp(p, "name"), SHA256: strProp(p, "sha256"),
		MediaType: strProp(p, "media_type"), CreatedBy: strProp(p, "created_by")}
	a.Size, _ = p["size"].(int64)
	if t := timeProp(p, "created_at"); t != nil {
		a.CreatedAt = *t
	}
	return a
}
