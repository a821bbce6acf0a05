package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"provgraph"
	"provgraph/internal/parallel"
	"provgraph/registry"
	"provgraph/runs"
)

// ModelRuns registers complete model runs: every check and the write in one transaction,
// a fixed number of statements however many runs there are.
type ModelRuns struct {
	DB *DB
	// BaseIRI names the records in the PROV-JSON stored with each run.
	BaseIRI string
	// Cache, if not nil, spares a registration the read of the records it names.
	Cache *RecordCache
}

var _ runs.ModelRunStore = (*ModelRuns)(nil)

var modelRunKind, _ = registry.KindByName("model-run")

// errRollback undoes a transaction whose results are nevertheless the answer: an atomic
// batch in which some run failed its checks, or a check-only one.
var errRollback = errors.New("graph: rolled back")

// runWrite is one run to write: its version and, for an update, the version it replaces.
type runWrite struct {
	runs.ModelRunWrite
	at      int // index in the results
	version int
	prev    registry.Record
}

// RegisterModelRuns checks model runs against the graph and writes them with their PROV
// relations and PROV-JSON.
func (s *ModelRuns) RegisterModelRuns(ctx context.Context, ws []runs.ModelRunWrite, mode runs.Mode) ([]runs.Result, error) {
	var results []runs.Result
	_, err := s.writeRetrying(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		results = make([]runs.Result, len(ws)) // afresh on every retry of the transaction
		claims := make([]idemClaim, 0, len(ws))
		for i, w := range ws {
			if w.IdemKey != "" {
				claims = append(claims, idemClaim{at: i, subject: w.Actor.Subject, kind: modelRunKind.Name, key: w.IdemKey, id: w.ID, body: string(w.Raw), now: w.Time})
			}
		}
		firsts, err := claimIdempotencyKeys(ctx, tx, claims)
		if err != nil {
			return nil, err
		}
		replays := make([]string, len(ws)) // the first record of each retried registration
		var todo []runWrite
		for i, w := range ws {
			switch f := firsts[i]; {
			case f.err != nil:
				results[i].Err = f.err
			case f.id != "":
				replays[i] = f.id
			default:
				todo = append(todo, runWrite{ModelRunWrite: w, at: i, version: 1})
			}
		}
		if err := s.write(ctx, tx, todo, results); err != nil {
			return nil, err
		}
		failed := slices.ContainsFunc(results, func(r runs.Result) bool { return r.Err != nil })
		if mode == runs.CheckOnly || (mode == runs.AllOrNothing && failed) {
			return nil, errRollback
		}
		return nil, fillReplays(ctx, tx, replays, results)
	})
	if errors.Is(err, errRollback) {
		for i := range results {
			results[i].Record = registry.Record{} // not written
		}
		return results, nil
	}
	if err != nil {
		return nil, err
	}
	return results, nil
}

// UpdateModelRun writes a new version that WAS_REVISION_OF the current one; the old
// version keeps its relations, so history shows what the run was first said to use.
func (s *ModelRuns) UpdateModelRun(ctx context.Context, w runs.ModelRunWrite) (registry.Record, error) {
	v, err := s.writeRetrying(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		if err := lockRecords(ctx, tx, []string{w.ID}); err != nil {
			return nil, err
		}
		cur, err := getRecord(ctx, tx, modelRunKind, w.ID, 0, w.Actor.Viewer)
		if err != nil {
			return nil, err
		}
		results := make([]runs.Result, 1)
		if err := s.write(ctx, tx, []runWrite{{ModelRunWrite: w, version: cur.Version + 1, prev: cur}}, results); err != nil {
			return nil, err
		}
		if results[0].Err != nil {
			return nil, results[0].Err
		}
		return getRecord(ctx, tx, modelRunKind, w.ID, 0, registry.Everyone)
	})
	if err != nil {
		return registry.Record{}, err
	}
	return v.(registry.Record), nil
}

// writeRetrying runs a write transaction again when a named record changed under it.
func (s *ModelRuns) writeRetrying(ctx context.Context, work neo4j.ManagedTransactionWork) (any, error) {
	for attempt := 1; ; attempt++ {
		v, err := s.DB.write(ctx, work)
		if !errors.Is(err, errChanged) || attempt == 3 {
			return v, err
		}
	}
}

// write checks each run against the graph, records the failures in results and writes
// the runs that pass, each with the PROV-JSON of what was written, in three statements:
// read, write, lock-and-verify.
func (s *ModelRuns) write(ctx context.Context, tx neo4j.ManagedTransaction, ws []runWrite, results []runs.Result) error {
	if len(ws) == 0 {
		return nil
	}
	// One author per request: every run of a batch has the same actor.
	a := ws[0].Actor
	if a.Subject == "" {
		return provgraph.Errorf(provgraph.Internal, "write without an actor")
	}
	read, err := s.loadRunContexts(ctx, tx, ws, a)
	if err != nil {
		return err
	}
	// The checks and documents of a batch's runs are independent: spread over the CPUs.
	type checked struct {
		p            map[string]any
		invalid, err error // the run's failures; why the write cannot go on
	}
	done := make([]checked, len(ws))
	parallel.Each(len(ws), func(i int) {
		c := &done[i]
		c.p, c.invalid, c.err = s.checkRun(ws[i], read.contexts[i], read)
	})
	var params []map[string]any
	var refs []string
	expect := map[string]any{} // id → the version every check and document used
	at := map[string]int{}     // run id → index in results
	for i, w := range ws {
		switch c := done[i]; {
		case c.err != nil:
			return c.err
		case c.invalid != nil:
			results[w.at].Err = c.invalid
			continue
		default:
			params = append(params, c.p)
		}
		wf := read.contexts[i].Workflow
		refs = append(append(refs, w.Run.Linked()...), w.Run.WorkflowTemplateID, wf.SoftwareID)
		for _, id := range slices.Concat(w.Run.Refs(), w.Run.TemplateIDs(wf), []string{w.Run.WorkflowTemplateID, wf.SoftwareID}) {
			if n, ok := read.nodes[id]; ok && n.Props["deleted_at"] == nil {
				expect[id] = n.Props["version"]
			}
		}
		at[w.ID] = w.at
	}
	if len(params) == 0 {
		return nil
	}
	slices.Sort(refs)
	refs = slices.Compact(refs)
	rec, err := run(ctx, tx, writeRunsCypher, map[string]any{"subject": a.Subject, "user": "agents/" + a.Subject, "name": a.Name,
		"runs": params, "guards": stripeKeys(refs), "expect": expect, "viewer": viewerParam(a.Viewer)})
	if err != nil {
		return err
	}
	// Every run, with every relationship (a MATCH that found nothing would drop one
	// silently: a record relabelled by a concurrent update), and every record it names as
	// it was read or cached.
	written, _ := rec.Get("written")
	changed, _ := rec.Get("changed")
	if written != int64(len(params)) || changed != int64(0) {
		s.Cache.forget(slices.Collect(maps.Keys(expect)))
		return errChanged
	}
	// The records are what was written; reading them back would only cost time.
	for _, p := range params {
		n := newRunNode(p)
		results[at[p["id"].(string)]].Record = withProvJSON(toRecord(modelRunKind, n), n)
	}
	return nil
}

// checkRun checks one run against the records read for it and makes its parameters for
// writeRunsCypher, with its PROV-JSON: invalid holds its failures, err says why the write
// cannot go on.
func (s *ModelRuns) checkRun(w runWrite, c runs.Context, read runReads) (p map[string]any, invalid, err error) {
	if errs := w.Violations(c); len(errs) > 0 {
		return nil, provgraph.InvalidFields("the model run is not valid; every violation is listed", errs), nil
	}
	p = runParams(w, c)
	var prev *dbtype.Node
	if w.version > 1 {
		n, ok := read.nodes[w.ID]
		if !ok {
			return nil, nil, errChanged
		}
		prev = &n
	}
	doc, err := runDocument(p, read.nodes, read.user, prev)
	if err != nil {
		return nil, nil, err
	}
	if p["props"].(map[string]any)["prov_json"], err = provJSON(doc, s.BaseIRI); err != nil {
		return nil, nil, fmt.Errorf("PROV-JSON of %s: %w", w.ID, err)
	}
	return p, nil, nil
}

// writeRunsCypher writes runs and their relations; for an update the old version is
// relabelled :Revision and keeps its own relations. Then it locks one guard of each
// record the runs link to and looks up every record they name: a concurrent delete
// either committed before (and is seen) or waits for this commit and then sees the runs
// as dependents. Locking last keeps the lock on a shared record (the workflow template
// every run names) to the moments before commit. It answers how many runs got every
// relationship they should, and how many named records are no longer as the checks saw
// them ($expect: id → version): gone, deleted, of another version or hidden from the
// author.
var writeRunsCypher = `
	MERGE (u:User:Agent {subject:$subject})
	ON CREATE SET u.id = $user, u.name = $name, u.kind = 'User'
	WITH u
	UNWIND $runs AS p
	CALL (u, p) {
		OPTIONAL MATCH (old:Record:ModelRun {id:p.id, version:p.prev}) WHERE p.prev > 0
		FOREACH (_ IN CASE WHEN old IS NULL THEN [] ELSE [1] END | REMOVE old:Record SET old:Revision)
		WITH old
		MATCH (wf:Record {id:p.wf}), (model:Record {id:p.model}), (modeller:Record {id:p.modeller})
		CREATE (r:Record:ModelRun:Activity) SET r = p.props
		CREATE (r)-[:WAS_ATTRIBUTED_TO {role:p.role, time:p.now}]->(u)
		CREATE (r)-[:WAS_ASSOCIATED_WITH {role:'modeller', plan:p.wf, time:p.start}]->(modeller)
		CREATE (r)-[:WAS_INFLUENCED_BY {role:'plan', field:'/workflow_template_id', time:p.start}]->(wf)
		CREATE (r)-[:USED {role:'model', model_version:p.model_version, time:p.start}]->(model)
		FOREACH (_ IN CASE WHEN old IS NULL THEN [] ELSE [1] END | CREATE (r)-[:WAS_REVISION_OF {time:p.now}]->(old))
		` + copyAccess + `
		WITH r, modeller, old
		CALL (r, p) {
			UNWIND p.inputs AS i
			MATCH (d:Record {id:i.id})
			CREATE (r)-[:USED {role:i.role, resources:i.resources, field:i.field, time:p.start}]->(d)
			RETURN count(*) AS inputs
		}
		CALL (r, p, modeller) {
			UNWIND p.outputs AS o
			MATCH (d:Record {id:o.id})
			CREATE (d)-[:WAS_GENERATED_BY {role:o.role, resources:o.resources, field:o.field, time:p.end}]->(r)
			CREATE (d)-[:WAS_ATTRIBUTED_TO {role:'modeller', activity:p.id, activity_version:p.props.version, time:p.end}]->(modeller)
			RETURN count(*) AS outputs
		}
		CALL (p, modeller) {
			MATCH (org:Record {id:p.org})
			CREATE (modeller)-[:ACTED_ON_BEHALF_OF {activity:p.id, activity_version:p.props.version, time:p.start}]->(org)
			RETURN count(*) AS orgs
		}
		CALL (r, p) {
			MATCH (study:Record {id:p.study})
			CREATE (r)-[:WAS_INFORMED_BY {role:'study', field:'/study_id'}]->(study)
			RETURN count(*) AS studies
		}
		RETURN inputs = size(p.inputs) AND outputs = size(p.outputs)
			AND orgs = CASE p.org WHEN '' THEN 0 ELSE 1 END AND studies = CASE p.study WHEN '' THEN 0 ELSE 1 END
			AND (p.prev = 0 OR old IS NOT NULL) AS complete
	}
	WITH sum(CASE WHEN complete THEN 1 ELSE 0 END) AS written
	CALL () {
		UNWIND $guards AS key
		MERGE (g:Guard {key:key})
		SET g.locked_ = true REMOVE g.locked_
	}
	CALL () {
		UNWIND keys($expect) AS id
		OPTIONAL MATCH (n:Record {id:id})
		WITH id, n WHERE n IS NULL OR n.deleted_at IS NOT NULL OR n.version <> $expect[id] OR NOT ` + readable("n") + `
		RETURN count(id) AS changed
	}
	RETURN written, changed`

// runParams are the parameters of one run in writeRunsCypher.
func runParams(w runWrite, c runs.Context) map[string]any {
	mr := w.Run
	props := map[string]any{
		"id": w.ID, "kind": modelRunKind.Label, "version": w.version, "name": mr.DisplayName,
		"document": string(w.Raw), "updated_at": w.Time, "updated_by": w.Actor.Subject,
		"created_at": w.Time, "created_by": w.Actor.Subject,
		"startedAtTime": mr.StartTime.Time, "endedAtTime": mr.EndTime.Time,
		"workflow_template_id": mr.WorkflowTemplateID, "modeller_id": mr.Associations.ModellerID,
	}
	if mr.StudyID != "" {
		props["study_id"] = mr.StudyID
	}
	if mr.ModelVersion != "" {
		props["model_version"] = mr.ModelVersion
	}
	role := "creator"
	if w.version > 1 {
		props["created_at"], props["created_by"], props["reason"] = w.prev.CreatedAt, w.prev.CreatedBy, w.Reason
		role = "reviser"
	}
	datasets := func(list []runs.Dataset, side string) []map[string]any {
		out := make([]map[string]any, 0, len(list))
		for i, d := range list {
			res := ""
			if len(d.Resources) > 0 {
				b, _ := json.Marshal(d.Resources)
				res = string(b)
			}
			out = append(out, map[string]any{"id": d.DatasetID, "role": d.DatasetTemplateID, "resources": res,
				"field": fmt.Sprintf("/%s/%d/dataset_id", side, i)})
		}
		return out
	}
	return map[string]any{
		"props": props, "now": w.Time, "role": role, "id": w.ID, "prev": w.prev.Version,
		"wf": mr.WorkflowTemplateID, "model": c.Workflow.SoftwareID, "model_version": mr.ModelVersion,
		"modeller": mr.Associations.ModellerID, "org": mr.Associations.RequestingOrganisationID, "study": mr.StudyID,
		"start": mr.StartTime.Time, "end": mr.EndTime.Time,
		"inputs": datasets(mr.Inputs, "inputs"), "outputs": datasets(mr.Outputs, "outputs"),
	}
}

// fillReplays reads into results the first records of retried registrations.
func fillReplays(ctx context.Context, tx neo4j.ManagedTransaction, ids []string, results []runs.Result) error {
	if !slices.ContainsFunc(ids, func(id string) bool { return id != "" }) {
		return nil
	}
	recs, err := collect(ctx, tx, `
		UNWIND range(0, size($ids) - 1) AS i
		MATCH (r:Record:ModelRun {id:$ids[i]})
		RETURN i, r`, map[string]any{"ids": ids})
	if err != nil {
		return err
	}
	found := make([]bool, len(ids))
	for _, rec := range recs {
		i := int(rec.Values[0].(int64))
		results[i].Record = withProvJSON(toRecord(modelRunKind, rec.Values[1].(dbtype.Node)), rec.Values[1].(dbtype.Node))
		found[i] = true
	}
	for i, ok := range found {
		if !ok && ids[i] != "" && results[i].Err == nil {
			// An idempotent retry whose first record was since deleted.
			results[i].Err = provgraph.Errorf(provgraph.Conflict, "the record first registered under this Idempotency-Key, %s, no longer exists", ids[i])
		}
	}
	return nil
}

// runReads is what the write of some runs needs from the graph.
type runReads struct {
	contexts []runs.Context
	nodes    map[string]dbtype.Node // every record read or cached, by id
	user     dbtype.Node            // the author, as MERGE will find or make it
}

// loadRunContexts gathers every record the runs name (and, for an update, the run
// itself), every record their workflow templates name, and the author: from the cache
// where it holds them (the write verifies those), the rest in one statement. A record the
// author may not read is not found. Nothing is locked here: a lock on a shared record (a
// workflow template, a modeller) held for the whole transaction would serialise every
// registration; the write locks a guard of each and re-reads them just before commit.
func (s *ModelRuns) loadRunContexts(ctx context.Context, tx neo4j.ManagedTransaction, ws []runWrite, author registry.Actor) (runReads, error) {
	out := runReads{nodes: map[string]dbtype.Node{},
		// As writeRunsCypher's MERGE creates it, if it does not exist yet.
		user: dbtype.Node{ElementId: "new:user", Labels: []string{"User", "Agent"},
			Props: map[string]any{"subject": author.Subject, "id": "agents/" + author.Subject, "name": author.Name, "kind": "User"}}}
	kinds := map[string]string{}
	workflows := map[string]*runs.Workflow{}
	templates := map[string]runs.DatasetTemplate{}
	use := func(n dbtype.Node, r cachedRecord) {
		id := strProp(n.Props, "id")
		out.nodes[id] = n
		if n.Props["deleted_at"] != nil {
			return
		}
		kinds[id] = strProp(n.Props, "kind")
		if r.workflow != nil {
			workflows[id] = r.workflow
		}
		if r.template != nil {
			templates[id] = *r.template
		}
	}
	var ids, wfs []string // to read: by id, and the records a workflow template names
	seen := map[string]bool{}
	var want func(id string, workflow bool)
	want = func(id string, workflow bool) {
		if seen[id] {
			return
		}
		seen[id] = true
		c, ok := s.Cache.record(id, author.Viewer)
		if !ok {
			if ids = append(ids, id); workflow {
				wfs = append(wfs, id)
			}
			return
		}
		use(c.node, c)
		if c.workflow != nil && workflow {
			want(c.workflow.SoftwareID, false)
			for _, t := range slices.Concat(c.workflow.InputTemplates, c.workflow.OutputTemplates) {
				want(t.TemplateID, false)
			}
		}
	}
	for _, w := range ws {
		want(w.Run.WorkflowTemplateID, true)
	}
	for _, w := range ws {
		if w.version > 1 && !seen[w.ID] {
			seen[w.ID], ids = true, append(ids, w.ID) // the run itself, always read
		}
		for _, id := range w.Run.Refs() {
			want(id, false)
		}
	}
	user, userCached := s.Cache.user(author.Subject)
	if userCached {
		out.user = user
	}
	if len(ids) > 0 || !userCached {
		if err := s.readRunContexts(ctx, tx, ids, wfs, author, &out, use); err != nil {
			return runReads{}, err
		}
	}
	out.contexts = make([]runs.Context, len(ws))
	for i, w := range ws {
		out.contexts[i] = runs.Context{Kinds: kinds, Templates: templates, Workflow: workflows[w.Run.WorkflowTemplateID]}
	}
	return out, nil
}

// readRunContexts reads the records ids, the records the workflow templates wfs name, and
// the author, into out by use, and caches them.
func (s *ModelRuns) readRunContexts(ctx context.Context, tx neo4j.ManagedTransaction, ids, wfs []string, author registry.Actor, out *runReads, use func(dbtype.Node, cachedRecord)) error {
	recs, err := collect(ctx, tx, `
		CALL () {
			UNWIND $ids AS id
			MATCH (n:Record {id:id}) WHERE `+readable("n")+`
			RETURN n
			UNION
			UNWIND $wfs AS wid
			MATCH (:Record:WorkflowTemplate {id:wid})-[:WAS_INFLUENCED_BY]->(t)
			MATCH (n:Record {id:t.id}) WHERE `+readable("n")+`
			RETURN n
			UNION
			MATCH (n:User {subject:$subject})
			RETURN n
		}
		RETURN collect({eid: elementId(n), labels: labels(n), props: n {`+cachedProjection+`}}) AS nodes`,
		map[string]any{"ids": ids, "wfs": wfs, "subject": author.Subject, "viewer": viewerParam(author.Viewer)})
	if err != nil {
		return err
	}
	for _, n := range collectedNodes(recs[0], "nodes") {
		if slices.Contains(n.Labels, "User") {
			out.user = n
			s.Cache.keep(n, cachedRecord{})
			continue
		}
		var r cachedRecord
		if n.Props["deleted_at"] == nil {
			if r, err = parseRecord(n); err != nil {
				return fmt.Errorf("stored workflow template %s: %w", strProp(n.Props, "id"), err)
			}
		}
		use(n, r)
		s.Cache.keep(n, r)
	}
	return nil
}

// errChanged says a record a run names was changed or deleted between the checks and
// the write; the transaction is rolled back and tried again.
var errChanged = provgraph.Errorf(provgraph.Conflict, "a record this model run names was changed or deleted while it was being registered; send it again")

// guardStripes is how many guards a record has: a registration locks one, chosen at
// random, and a delete locks them all, so registrations naming one shared record (the
// workflow template every run names) seldom wait on each other, yet never miss a delete.
const guardStripes = 8

// guardKeys are the keys of every guard of id.
func guardKeys(id string) []string {
	keys := make([]string, guardStripes)
	for k := range keys {
		keys[k] = fmt.Sprintf("%s#%d", id, k)
	}
	return keys
}

// stripeKeys are the keys of one guard of each id, the same stripe for all.
func stripeKeys(ids []string) []string {
	stripe := rand.IntN(guardStripes)
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = fmt.Sprintf("%s#%d", id, stripe)
	}
	return keys
}

// lockGuards locks (making them if need be) the guards of keys, in key order.
func lockGuards(ctx context.Context, tx neo4j.ManagedTransaction, keys []string) error {
	slices.Sort(keys)
	_, err := tx.Run(ctx, `
		UNWIND $keys AS key
		MERGE (g:Guard {key:key})
		SET g.locked_ = true REMOVE g.locked_`, map[string]any{"keys": keys})
	return err
}

// withProvJSON adds the PROV-JSON stored with a run to its record.
func withProvJSON(r registry.Record, n dbtype.Node) registry.Record {
	if s := strProp(n.Props, "prov_json"); s != "" {
		r.ProvJSON = json.RawMessage(s)
	}
	return r
}

// WorkflowTemplates reads a current workflow template and the dataset templates it names.
func (s *ModelRuns) WorkflowTemplates(ctx context.Context, id string, who registry.Viewer) (runs.Workflow, map[string]runs.DatasetTemplate, error) {
	viewer := viewerParam(who)
	type answer struct {
		wf        runs.Workflow
		templates map[string]runs.DatasetTemplate
	}
	v, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, `
			MATCH (w:Record:WorkflowTemplate {id:$id}) WHERE w.deleted_at IS NULL AND `+readable("w")+`
			RETURN w.document AS wf`, map[string]any{"id": id, "viewer": viewer})
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, registry.ErrNotFound("workflow-template", id)
		}
		a := answer{templates: map[string]runs.DatasetTemplate{}}
		if err := json.Unmarshal([]byte(str(recs[0], "wf")), &a.wf); err != nil {
			return nil, fmt.Errorf("stored workflow template %s: %w", id, err)
		}
		// By id, not by edge: a template's edge stays with the version the workflow
		// template was written against, and the CSV needs the current one.
		recs, err = collect(ctx, tx, `
			UNWIND $ids AS id
			MATCH (t:Record:DatasetTemplate {id:id}) WHERE `+readable("t")+`
			RETURN id, t.document AS doc`, map[string]any{"ids": runs.ModelRun{}.TemplateIDs(&a.wf), "viewer": viewer})
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			var t runs.DatasetTemplate
			if json.Unmarshal([]byte(str(r, "doc")), &t) == nil {
				a.templates[str(r, "id")] = t
			}
		}
		return a, nil
	})
	if err != nil {
		return runs.Workflow{}, nil, err
	}
	a := v.(answer)
	return a.wf, a.templates, nil
}
