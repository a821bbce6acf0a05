package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"provgraph"
	"provgraph/registry"
	"provgraph/runs"
)

// Runs keeps tracked runs: every operation is one transaction whose write is conditional
// on the state the lifecycle table allows it from.
type Runs struct {
	DB  *DB
	IDs *registry.IDs
}

var _ runs.RunStore = (*Runs)(nil)

// reaper is the agent the lease reaper acts as.
var reaper = registry.Actor{Subject: "system:reaper", Name: "lease reaper"}

// CreateRun stores a PENDING run linked to what it names, with its first event.
func (s *Runs) CreateRun(ctx context.Context, c runs.RunCreate) (runs.Run, error) {
	v, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		if c.IdemKey != "" {
			firsts, err := claimIdempotencyKeys(ctx, tx, []idemClaim{{subject: c.Actor.Subject, kind: "run", key: c.IdemKey, id: c.ID, body: string(c.Raw), now: c.Time}})
			if err != nil {
				return nil, err
			}
			if f := firsts[0]; f.err != nil || f.id != "" {
				if f.err != nil {
					return nil, f.err
				}
				return readRun(ctx, tx, f.id)
			}
		}
		if err := checkRunRefs(ctx, tx, c.Spec.Refs()); err != nil {
			return nil, err
		}
		sp := c.Spec
		kind := sp.Kind
		if kind == "" {
			kind = "task"
		}
		props := map[string]any{
			"id": c.ID, "kind": "Run", "version": 1, "name": sp.Name, "description": sp.Description, "run_kind": kind,
			"document": string(c.Raw), "state": string(runs.Pending), "archived": false, "attempt": 1, "events": 1,
			"created_at": c.Time, "created_by": c.Actor.Subject, "updated_at": c.Time, "updated_by": c.Actor.Subject,
			"tags": tagList(sp.Tags),
		}
		var wf, model string
		if sp.Ref != nil {
			wf, model = sp.Ref.WorkflowTemplateID, sp.Ref.ModelID
		}
		if wf != "" {
			props["workflow_template_id"] = wf
		}
		if sp.StudyID != "" {
			props["study_id"] = sp.StudyID
		}
		contents := make([]map[string]any, 0, len(c.Contents))
		for _, f := range c.Contents {
			contents = append(contents, map[string]any{"role": f.Role, "props": map[string]any{
				"id": f.ID, "kind": "Artifact", "version": 1, "name": f.Name, "run_id": c.ID, "sha256": f.SHA256, "size": f.Size,
				"media_type": f.MediaType, "created_at": c.Time, "created_by": c.Actor.Subject, "updated_at": c.Time, "updated_by": c.Actor.Subject,
			}})
		}
		inputs := make([]map[string]any, 0, len(sp.Inputs))
		for i, in := range sp.Inputs {
			inputs = append(inputs, map[string]any{"id": in.ID, "role": in.Role, "field": fmt.Sprintf("/inputs/%d/id", i)})
		}
		_, err := run(ctx, tx, `
			MERGE (u:User:Agent {subject:$subject})
			ON CREATE SET u.id = $user, u.name = $name, u.kind = 'User'
			CREATE (r:Record:Run:Activity) SET r = $props
			CREATE (r)-[:WAS_ATTRIBUTED_TO {role:'creator', time:$now}]->(u)
			CREATE (e:RunEvent:Entity {id:$id + '/events/1', run_id:$id, seq:1, op:'create', to:'PENDING', at:$now,
				actor:$subject, attempt:1, name:'create'})
			CREATE (e)-[:WAS_ATTRIBUTED_TO {role:'actor', time:$now}]->(u)
			CREATE (r)-[:WAS_INFLUENCED_BY {role:'create'}]->(e)
			WITH r, u
			CALL (r, u) {
				UNWIND $contents AS c
				CREATE (a:Record:Artifact:Entity) SET a = c.props
				CREATE (r)-[:USED {role:c.role, time:$now}]->(a)
				CREATE (a)-[:WAS_ATTRIBUTED_TO {role:'submitter', time:$now}]->(u)
			}
			CALL (r) {
				UNWIND $inputs AS i
				MATCH (d:Record {id:i.id})
				CREATE (r)-[:USED {role:coalesce(i.role, 'input'), field:i.field}]->(d)
			}
			CALL (r) {
				MATCH (w:Record {id:$wf})
				CREATE (r)-[:WAS_INFLUENCED_BY {role:'plan', field:'/ref/workflow_template_id'}]->(w)
			}
			CALL (r) {
				MATCH (m:Record {id:$model})
				CREATE (r)-[:USED {role:'model', field:'/ref/model_id'}]->(m)
			}
			CALL (r) {
				MATCH (st:Record {id:$study})
				CREATE (r)-[:WAS_INFORMED_BY {role:'study', field:'/study_id'}]->(st)
			}
			RETURN r.id AS id`,
			map[string]any{"subject": c.Actor.Subject, "user": "agents/" + c.Actor.Subject, "name": c.Actor.Name, "props": props,
				"now": c.Time, "id": c.ID, "inputs": inputs, "wf": wf, "model": model, "study": sp.StudyID, "contents": contents})
		if err != nil {
			return nil, err
		}
		return readRun(ctx, tx, c.ID)
	})
	if err != nil {
		return runs.Run{}, err
	}
	return v.(runs.Run), nil
}

// checkRunRefs reports every named record that is missing, deleted or of a wrong kind,
// after locking one guard of each so that none is deleted before this commits.
func checkRunRefs(ctx context.Context, tx neo4j.ManagedTransaction, refs []runs.Ref) error {
	if len(refs) == 0 {
		return nil
	}
	ids := make([]string, 0, len(refs))
	for _, r := range refs {
		ids = append(ids, r.ID)
	}
	if err := lockGuards(ctx, tx, stripeKeys(ids)); err != nil {
		return err
	}
	recs, err := collect(ctx, tx, `
		UNWIND $ids AS id
		MATCH (n:Record {id:id}) WHERE n.deleted_at IS NULL
		RETURN id, n.kind AS kind`, map[string]any{"ids": ids})
	if err != nil {
		return err
	}
	kinds := map[string]string{}
	for _, r := range recs {
		kinds[str(r, "id")] = str(r, "kind")
	}
	var errs []provgraph.FieldError
	for _, r := range refs {
		switch k, ok := kinds[r.ID]; {
		case !ok:
			errs = append(errs, provgraph.FieldError{Path: r.Pointer, Message: fmt.Sprintf("no record with id %q", r.ID)})
		case !slices.Contains(r.Kinds, k):
			errs = append(errs, provgraph.FieldError{Path: r.Pointer, Message: fmt.Sprintf("%s is a %s, not a %s", r.ID, k, strings.Join(r.Kinds, " or "))})
		}
	}
	if len(errs) > 0 {
		return provgraph.InvalidFields("the run names records that cannot be used", errs)
	}
	return nil
}

func tagList(tags map[string]string) []string {
	out := make([]string, 0, len(tags))
	for k, v := range tags {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// GetRun reads a run with its events and outputs.
func (s *Runs) GetRun(ctx context.Context, id string) (runs.Run, error) {
	v, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		return readRun(ctx, tx, id)
	})
	if err != nil {
		return runs.Run{}, err
	}
	r := v.(runs.Run)
	if r.DeletedAt != nil {
		return runs.Run{}, provgraph.Errorf(provgraph.NotFound, "run %q was deleted at %s; its history remains", id, r.DeletedAt.Format(time.RFC3339))
	}
	return r, nil
}

func readRun(ctx context.Context, tx neo4j.ManagedTransaction, id string) (runs.Run, error) {
	recs, err := collect(ctx, tx, `
		MATCH (r:Record:Run {id:$id})
		CALL (r) {
			OPTIONAL MATCH (r)-[]->(e:RunEvent)
			RETURN collect(e {.*}) AS events
		}
		CALL (r) {
			OPTIONAL MATCH (o)-[g:WAS_GENERATED_BY]->(r)
			RETURN collect({id:o.id, role:g.role}) AS outputs
		}
		CALL (r) {
			OPTIONAL MATCH (r)-[:WAS_INFORMED_BY {role:'previous_attempt'}]->(a:RunAttempt)
			RETURN collect(a {.*}) AS attempts
		}
		RETURN r, events, outputs, attempts`, map[string]any{"id": id})
	if err != nil {
		return runs.Run{}, err
	}
	if len(recs) == 0 {
		return runs.Run{}, registry.ErrNotFound("run", id)
	}
	return toRun(recs[0]), nil
}

func toRun(rec *neo4j.Record) runs.Run {
	n := rec.Values[0].(dbtype.Node)
	p := n.Props
	r := runs.Run{
		ID: strProp(p, "id"), State: runs.State(strProp(p, "state")), Name: strProp(p, "name"),
		Description: strProp(p, "description"), Kind: strProp(p, "run_kind"), StudyID: strProp(p, "study_id"),
		WorkflowTemplateID: strProp(p, "workflow_template_id"), Executor: strProp(p, "executor"),
		Message: strProp(p, "message"), CreatedBy: strProp(p, "created_by"), Spec: json.RawMessage(strProp(p, "document")),
	}
	r.Archived, _ = p["archived"].(bool)
	if a, ok := p["attempt"].(int64); ok {
		r.Attempt = int(a)
	}
	if tags, ok := p["tags"].([]any); ok && len(tags) > 0 {
		r.Tags = map[string]string{}
		for _, t := range tags {
			k, v, _ := strings.Cut(t.(string), "=")
			r.Tags[k] = v
		}
	}
	r.CreatedAt, _ = p["created_at"].(time.Time)
	r.UpdatedAt, _ = p["updated_at"].(time.Time)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	r.LeaseUntil, r.StartedAt, r.EndedAt, r.DeletedAt = timeProp(p, "lease_until"), timeProp(p, "startedAtTime"), timeProp(p, "endedAtTime"), timeProp(p, "deleted_at")
	if len(rec.Values) > 1 {
		for _, x := range rec.Values[1].([]any) {
			e := x.(map[string]any)
			ev := runs.Event{Op: runs.Op(strProp(e, "op")), From: runs.State(strProp(e, "from")), To: runs.State(strProp(e, "to")),
				Actor: strProp(e, "actor"), Reason: strProp(e, "reason")}
			if v, ok := e["seq"].(int64); ok {
				ev.Seq = int(v)
			}
			if v, ok := e["attempt"].(int64); ok {
				ev.Attempt = int(v)
			}
			if t := timeProp(e, "at"); t != nil {
				ev.At = *t
			}
			r.Events = append(r.Events, ev)
		}
		slices.SortFunc(r.Events, func(a, b runs.Event) int { return a.Seq - b.Seq })
		for _, x := range rec.Values[2].([]any) {
			o := x.(map[string]any)
			if id := strProp(o, "id"); id != "" {
				r.Outputs = append(r.Outputs, runs.RunInput{ID: id, Role: strProp(o, "role")})
			}
		}
		for _, x := range rec.Values[3].([]any) {
			a := x.(map[string]any)
			at := runs.Attempt{State: runs.State(strProp(a, "state")), Executor: strProp(a, "executor"), Message: strProp(a, "message"),
				StartedAt: timeProp(a, "startedAtTime"), EndedAt: timeProp(a, "endedAtTime")}
			if n, ok := a["attempt"].(int64); ok {
				at.Attempt = int(n)
			}
			r.Attempts = append(r.Attempts, at)
		}
		slices.SortFunc(r.Attempts, func(a, b runs.Attempt) int { return a.Attempt - b.Attempt })
	}
	return r
}

// executorOps may be done only by the executor that claimed the run (or an admin).
var executorOps = []runs.Op{runs.OpHeartbeat, runs.OpComplete, runs.OpFail, runs.OpCanceled}

// Apply makes one lifecycle change. The run is locked, its state read and checked against
// the lifecycle table, and the write is again conditional on that state.
func (s *Runs) Apply(ctx context.Context, c runs.Change) (runs.Run, error) {
	v, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		return apply(ctx, tx, c)
	})
	if err != nil {
		return runs.Run{}, err
	}
	return v.(runs.Run), nil
}

func apply(ctx context.Context, tx neo4j.ManagedTransaction, c runs.Change) (runs.Run, error) {
	cur, err := run(ctx, tx, `
		OPTIONAL MATCH (r:Record:Run {id:$id})
		CALL (r) { WITH r WHERE r IS NOT NULL SET r.locked_ = true REMOVE r.locked_ }
		RETURN r IS NOT NULL AS found, r.state AS state, r.executor AS executor, r.deleted_at IS NOT NULL AS deleted`,
		map[string]any{"id": c.ID})
	if err != nil {
		return runs.Run{}, err
	}
	if found, _ := cur.Get("found"); found != true {
		return runs.Run{}, registry.ErrNotFound("run", c.ID)
	}
	if deleted, _ := cur.Get("deleted"); deleted == true {
		return runs.Run{}, provgraph.Errorf(provgraph.NotFound, "run %q was deleted", c.ID)
	}
	from := runs.State(str(cur, "state"))
	to, err := runs.Next(c.Op, from)
	if err != nil {
		return runs.Run{}, err
	}
	executor := str(cur, "executor")
	if slices.Contains(executorOps, c.Op) || (c.Op == runs.OpError && executor != "") {
		if executor != c.Actor.Subject && !c.Admin {
			return runs.Run{}, provgraph.Errorf(provgraph.Forbidden, "only the executor that claimed run %s (%s) may %s it", c.ID, executor, c.Op)
		}
	}
	if c.Op == runs.OpHeartbeat {
		_, err := run(ctx, tx, `
			MATCH (r:Record:Run {id:$id}) WHERE r.state = $from
			SET r.lease_until = $until, r.heartbeat_at = $now
			RETURN count(r) AS n`, map[string]any{"id": c.ID, "from": string(from), "until": c.Time.Add(c.Lease), "now": c.Time})
		if err != nil {
			return runs.Run{}, err
		}
		return readRun(ctx, tx, c.ID)
	}
	// How the event enters the run's PROV: what starts it, what ends it, what else
	// influenced it.
	link := "WAS_INFLUENCED_BY"
	switch {
	case c.Op == runs.OpClaim:
		link = "WAS_STARTED_BY"
	case to.Terminal():
		link = "WAS_ENDED_BY"
	}
	outputs := make([]map[string]any, 0, len(c.Outputs))
	for i, o := range c.Outputs {
		outputs = append(outputs, map[string]any{"id": o.ID, "role": o.Role, "field": fmt.Sprintf("/outputs/%d/id", i)})
	}
	if len(outputs) > 0 {
		refs := make([]runs.Ref, 0, len(c.Outputs))
		for i, o := range c.Outputs {
			refs = append(refs, runs.Ref{Pointer: fmt.Sprintf("/outputs/%d/id", i), ID: o.ID, Kinds: []string{"Dataset", "Artifact"}})
		}
		if err := checkRunRefs(ctx, tx, refs); err != nil {
			return runs.Run{}, err
		}
	}
	rec, err := run(ctx, tx, fmt.Sprintf(`
		MERGE (u:User:Agent {subject:$subject})
		ON CREATE SET u.id = $user, u.name = $name, u.kind = 'User'
		WITH u
		MATCH (r:Record:Run {id:$id}) WHERE r.state = $from
		WITH u, r, r.events + 1 AS seq, r.attempt AS attempt
		SET r.state = $to, r.events = seq, r.updated_at = $now, r.updated_by = $subject
		CREATE (e:RunEvent:Entity {id:$id + '/events/' + seq, run_id:$id, seq:seq, op:$op, from:$from, to:$to, at:$now,
			actor:$subject, reason:$reason, attempt:attempt, name:$op})
		CREATE (e)-[:WAS_ATTRIBUTED_TO {role:'actor', time:$now}]->(u)
		CREATE (r)-[:%s {role:$op, time:$now}]->(e)
		WITH u, r, attempt
		CALL (u, r) {
			WITH u, r WHERE $op = 'claim'
			SET r.executor = $subject, r.lease_until = $until, r.startedAtTime = $now
			// Labelled once: setting a label takes the node's write lock even when it is
			// there, and every claim of one executor would then wait on (and deadlock
			// with) the others, which hold its shared lock from their own events.
			FOREACH (_ IN CASE WHEN u:SoftwareAgent THEN [] ELSE [1] END | SET u:SoftwareAgent)
			CREATE (r)-[:WAS_ASSOCIATED_WITH {role:'executor', time:$now}]->(u)
		}
		CALL (r) {
			WITH r WHERE $terminal
			SET r.endedAtTime = $now, r.lease_until = null, r.message = $reason
		}
		CALL (r) {
			// What a canceled run had produced so far is not a result: invalidated by it.
			WITH r WHERE $to = 'CANCELED'
			MATCH (o)-[:WAS_GENERATED_BY]->(r) WHERE NOT (o)-[:WAS_INVALIDATED_BY]->()
			CREATE (o)-[:WAS_INVALIDATED_BY {role:'canceled', time:$now}]->(r)
		}
		CALL (r) {
			UNWIND $outputs AS o
			MATCH (d:Record {id:o.id})
			CREATE (d)-[:WAS_GENERATED_BY {role:coalesce(o.role, 'output'), field:o.field, time:$now}]->(r)
		}
		CALL (r, attempt) {
			// A retry keeps the ended attempt as an activity of its own, with its start,
			// end and executor, which the new attempt WAS_INFORMED_BY.
			WITH r, attempt WHERE $op = 'retry'
			CREATE (a:RunAttempt:Activity {id:r.id + '/attempts/' + attempt, run_id:r.id, attempt:attempt, name:r.name + ' (attempt ' + attempt + ')',
				startedAtTime:r.startedAtTime, endedAtTime:r.endedAtTime, state:$from, executor:r.executor, message:r.message})
			CREATE (r)-[:WAS_INFORMED_BY {role:'previous_attempt'}]->(a)
			WITH r, a
			CALL (r, a) {
				MATCH (r)-[old:WAS_STARTED_BY|WAS_ENDED_BY]->(e:RunEvent)
				CALL (a, old, e) {
					WITH a, old, e WHERE type(old) = 'WAS_STARTED_BY'
					CREATE (a)-[:WAS_STARTED_BY {role:old.role, time:old.time}]->(e)
				}
				CALL (a, old, e) {
					WITH a, old, e WHERE type(old) = 'WAS_ENDED_BY'
					CREATE (a)-[:WAS_ENDED_BY {role:old.role, time:old.time}]->(e)
				}
				DELETE old
			}
			CALL (r, a) {
				MATCH (r)-[old:WAS_ASSOCIATED_WITH {role:'executor'}]->(x)
				CREATE (a)-[:WAS_ASSOCIATED_WITH {role:'executor', time:old.time}]->(x)
				DELETE old
			}
			SET r.attempt = attempt + 1, r.executor = null, r.lease_until = null, r.startedAtTime = null,
				r.endedAtTime = null, r.message = null
		}
		RETURN count(r) AS n`, relType(link)),
		map[string]any{"subject": c.Actor.Subject, "user": "agents/" + c.Actor.Subject, "name": c.Actor.Name,
			"id": c.ID, "from": string(from), "to": string(to), "op": string(c.Op), "now": c.Time, "reason": c.Reason,
			"until": c.Time.Add(c.Lease), "terminal": to.Terminal(), "outputs": outputs})
	if err != nil {
		return runs.Run{}, err
	}
	if n, _ := rec.Get("n"); n != int64(1) {
		return runs.Run{}, runs.ConflictFor(c.Op, from)
	}
	return readRun(ctx, tx, c.ID)
}

// MergeTags merges tags into a run: the run's node is locked by the first write, its
// tags read and merged under that lock, so concurrent merges do not lose each other's.
func (s *Runs) MergeTags(ctx context.Context, id string, tags map[string]*string, actor registry.Actor, at time.Time) (runs.Run, error) {
	v, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, `
			MATCH (r:Record:Run {id:$id}) WHERE r.deleted_at IS NULL
			SET r.updated_at = $now, r.updated_by = $subject
			RETURN r.tags AS tags`, map[string]any{"id": id, "now": at, "subject": actor.Subject})
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, registry.ErrNotFound("run", id)
		}
		have := map[string]string{}
		if list, ok := recs[0].Values[0].([]any); ok {
			for _, t := range list {
				k, v, _ := strings.Cut(t.(string), "=")
				have[k] = v
			}
		}
		for k, v := range tags {
			if v == nil {
				delete(have, k)
			} else {
				have[k] = *v
			}
		}
		if len(have) > runs.MaxTags {
			return nil, provgraph.InvalidFields("the tags cannot be set", []provgraph.FieldError{{Path: "/tags", Message: fmt.Sprintf("a run has at most %d tags", runs.MaxTags)}})
		}
		if _, err := run(ctx, tx, `MATCH (r:Record:Run {id:$id}) SET r.tags = $tags RETURN r.id`, map[string]any{"id": id, "tags": tagList(have)}); err != nil {
			return nil, err
		}
		return readRun(ctx, tx, id)
	})
	if err != nil {
		return runs.Run{}, err
	}
	return v.(runs.Run), nil
}

// SetArchived sets the archived flag and records the event.
func (s *Runs) SetArchived(ctx context.Context, id string, archived bool, actor registry.Actor, at time.Time) (runs.Run, error) {
	v, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		op := "archive"
		if !archived {
			op = "unarchive"
		}
		rec, err := run(ctx, tx, `
			MERGE (u:User:Agent {subject:$subject})
			ON CREATE SET u.id = $user, u.name = $name, u.kind = 'User'
			WITH u
			OPTIONAL MATCH (r:Record:Run {id:$id}) WHERE r.deleted_at IS NULL
			CALL (u, r) {
				WITH u, r WHERE r IS NOT NULL AND r.archived <> $archived
				SET r.archived = $archived, r.events = r.events + 1, r.updated_at = $now
				CREATE (e:RunEvent:Entity {id:$id + '/events/' + r.events, run_id:$id, seq:r.events, op:$op, from:r.state, to:r.state,
					at:$now, actor:$subject, attempt:r.attempt, name:$op})
				CREATE (e)-[:WAS_ATTRIBUTED_TO {role:'actor', time:$now}]->(u)
				CREATE (r)-[:WAS_INFLUENCED_BY {role:$op, time:$now}]->(e)
			}
			RETURN r IS NOT NULL AS found`,
			map[string]any{"subject": actor.Subject, "user": "agents/" + actor.Subject, "name": actor.Name, "id": id, "archived": archived, "now": at, "op": op})
		if err != nil {
			return nil, err
		}
		if found, _ := rec.Get("found"); found != true {
			return nil, registry.ErrNotFound("run", id)
		}
		return readRun(ctx, tx, id)
	})
	if err != nil {
		return runs.Run{}, err
	}
	return v.(runs.Run), nil
}

// Reap ends runs whose lease lapsed, each in its own conditional transaction, so a
// heartbeat that arrives first wins.
func (s *Runs) Reap(ctx context.Context, now time.Time) (int, error) {
	now = now.UTC()
	v, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		return collect(ctx, tx, `
			MATCH (r:Run:Record) WHERE r.state IN ['RUNNING', 'CANCELING'] AND r.lease_until < $now
			RETURN r.id AS id, r.state AS state LIMIT 1000`, map[string]any{"now": now})
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range v.([]*neo4j.Record) {
		op := runs.OpError
		if str(r, "state") == string(runs.Canceling) {
			op = runs.OpCanceled
		}
		_, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
			still, err := run(ctx, tx, `
				MATCH (r:Record:Run {id:$id}) SET r.locked_ = true REMOVE r.locked_
				RETURN r.lease_until < $now AS lapsed`, map[string]any{"id": str(r, "id"), "now": now})
			if err != nil {
				return nil, err
			}
			if lapsed, _ := still.Get("lapsed"); lapsed != true {
				return nil, nil // a heartbeat came first
			}
			return apply(ctx, tx, runs.Change{ID: str(r, "id"), Op: op, Actor: reaper, Admin: true, Reason: "the executor's lease lapsed", Time: now})
		})
		if err == nil {
			n++
		} else if provgraph.ErrorCode(err) != provgraph.Conflict {
			return n, err
		}
	}
	return n, nil
}

// DeleteRun invalidates a run in a terminal state, unless its outputs are used.
func (s *Runs) DeleteRun(ctx context.Context, id string, actor registry.Actor, reason string, at time.Time) error {
	at = at.UTC()
	activity := s.IDs.New(at)
	_, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		return nil, invalidate(ctx, tx, "run", id, actor, reason, at, activity, func() error {
			r, err := readRun(ctx, tx, id)
			switch {
			case err != nil:
				return err
			case r.DeletedAt != nil:
				return provgraph.Errorf(provgraph.NotFound, "run %q was already deleted", id)
			case !r.State.Terminal():
				return provgraph.Errorf(provgraph.Conflict, "run %s is %s; only a run in a terminal state (SUCCEEDED, FAILED, ERROR, CANCELED) can be deleted", id, r.State)
			}
			return nil
		})
	})
	return err
}

// ListRuns reads one page of current runs, keyset-paged on (sort field, id), and says
// whether more follow.
func (s *Runs) ListRuns(ctx context.Context, q runs.RunQuery) ([]runs.Run, bool, error) {
	field := map[string]string{"created_at": "created_at", "name": "name", "state": "state"}[q.Sort]
	if field == "" {
		return nil, false, provgraph.Errorf(provgraph.Invalid, "cannot sort by %q", q.Sort)
	}
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	where, params := runFilters(q)
	params["limit"] = q.PageSize + 1
	add := func(cond, name string, v any) {
		where = append(where, cond)
		params[name] = v
	}
	if q.After != nil {
		var v any = q.After.Value
		if field == "created_at" {
			t, err := time.Parse(time.RFC3339Nano, q.After.Value)
			if err != nil {
				return nil, false, provgraph.Errorf(provgraph.Invalid, "bad page_token")
			}
			v = t
		}
		add(fmt.Sprintf("(r.%[1]s %[2]s $cv OR (r.%[1]s = $cv AND r.id %[2]s $cid))", field, cmp), "cv", v)
		params["cid"] = q.After.ID
	}
	recs, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		return collect(ctx, tx, fmt.Sprintf(`
			MATCH (r:Run:Record) WHERE %s
			RETURN r ORDER BY r.%s %s, r.id %s LIMIT $limit`, strings.Join(where, " AND "), field, dir, dir), params)
	})
	if err != nil {
		return nil, false, err
	}
	out := make([]runs.Run, 0, q.PageSize)
	for i, rec := range recs.([]*neo4j.Record) {
		if i == q.PageSize {
			return out, true, nil
		}
		out = append(out, toRun(rec))
	}
	return out, false, nil
}

// runFilters is the WHERE of a run list without its position: conditions on r, and
// their parameters.
func runFilters(q runs.RunQuery) ([]string, map[string]any) {
	where := []string{"r.deleted_at IS NULL"}
	params := map[string]any{}
	add := func(cond, name string, v any) {
		where = append(where, cond)
		params[name] = v
	}
	if len(q.States) > 0 {
		states := make([]string, len(q.States))
		for i, st := range q.States {
			states[i] = string(st)
		}
		add("r.state IN $states", "states", states)
	}
	if q.NamePrefix != "" {
		add("r.name STARTS WITH $prefix", "prefix", q.NamePrefix)
	}
	if q.NameContains != "" {
		add("toLower(r.name) CONTAINS toLower($contains)", "contains", q.NameContains)
	}
	if len(q.Tags) > 0 {
		add("all(t IN $tags WHERE t IN r.tags)", "tags", q.Tags)
	}
	if q.StudyID != "" {
		add("r.study_id = $study", "study", q.StudyID)
	}
	if q.WorkflowTemplateID != "" {
		add("r.workflow_template_id = $wf", "wf", q.WorkflowTemplateID)
	}
	if q.CreatedAfter != nil {
		add("r.created_at >= $after", "after", *q.CreatedAfter)
	}
	if q.CreatedBefore != nil {
		add("r.created_at < $before", "before", *q.CreatedBefore)
	}
	switch q.Archived {
	case "true":
		where = append(where, "r.archived = true")
	case "any":
	default:
		where = append(where, "r.archived = false")
	}
	return where, params
}

// CountRuns counts the current runs a list's filters match, every page together.
func (s *Runs) CountRuns(ctx context.Context, q runs.RunQuery) (int, error) {
	where, params := runFilters(q)
	v, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		cur, err := run(ctx, tx, "MATCH (r:Run:Record) WHERE "+strings.Join(where, " AND ")+" RETURN count(r) AS n", params)
		if err != nil {
			return nil, err
		}
		n, _ := cur.Get("n")
		return n, nil
	})
	if err != nil {
		return 0, err
	}
	n, _ := v.(int64)
	return int(n), nil
}

// Secret is a random value kept in the graph under name, made on first use: page tokens
// are signed with it, so they survive restarts and work across servers.
func (db *DB) Secret(ctx context.Context, name string) ([]byte, error) {
	v, err := db.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		rec, err := run(ctx, tx, `
			MERGE (s:Secret {name:$name})
			ON CREATE SET s.value = randomUUID() + randomUUID()
			RETURN s.value AS value`, map[string]any{"name": name})
		if err != nil {
			return nil, err
		}
		return str(rec, "value"), nil
	})
	if err != nil {
		return nil, err
	}
	return []byte(v.(string)), nil
}

// PurgeRun erases a run in a terminal state, with its events, attempts, metrics and
// artifact records (their content-addressed files stay: another run may have the same
// bytes): an admin's operation, refused while anything depends on the run.
func (s *Runs) PurgeRun(ctx context.Context, id string) error {
	_, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		if err := lockRecords(ctx, tx, []string{id}); err != nil {
			return nil, err
		}
		if err := lockGuards(ctx, tx, guardKeys(id)); err != nil {
			return nil, err
		}
		r, err := readRun(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if !r.State.Terminal() {
			return nil, provgraph.Errorf(provgraph.Conflict, "run %s is %s; only a run in a terminal state can be purged", id, r.State)
		}
		deps, err := dependents(ctx, tx, id, registry.Everyone) // an admin's
		if err != nil {
			return nil, err
		}
		if len(deps) > 0 {
			return nil, provgraph.Errorf(provgraph.Conflict, "run %s cannot be purged while %d records depend on it (first: %s %s)", id, len(deps), deps[0].Kind, deps[0].ID)
		}
		_, err = run(ctx, tx, `
			MATCH (r:Record:Run {id:$id})
			OPTIONAL MATCH (r)-[]->(x) WHERE x:RunEvent OR x:RunAttempt
			WITH r, collect(x) AS owned
			OPTIONAL MATCH (a:Artifact)-[:WAS_GENERATED_BY]->(r)
			WITH r, owned, collect(a) AS artifacts
			OPTIONAL MATCH (r)-[:USED]->(i:Artifact {run_id:$id})
			WITH r, owned, artifacts, collect(i) AS inputs
			WITH r, owned, artifacts + inputs AS artifacts
			WITH r, owned + artifacts AS owned
			CALL () { MATCH (m:Metric {run_id:$id}) DETACH DELETE m }
			CALL (owned) { UNWIND owned AS x DETACH DELETE x }
			DETACH DELETE r
			RETURN 1 AS done`, map[string]any{"id": id})
		return nil, err
	})
	return err
}
