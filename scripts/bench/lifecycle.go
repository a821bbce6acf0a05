package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"provgraph/registry"
	"provgraph/runs"
	"provgraph/scripts/internal/apiclient"
	"provgraph/scripts/internal/fixture"
)

// The lifecycle section measures tracked runs: one lifecycle is create → claim → N
// heartbeats → one metrics report → complete, done one operation after another by a
// closed-loop worker. The runs are created with the admin token and claimed, renewed,
// reported and completed with a separate writer token (the executor), as a scheduler and
// its executors would. The raw side runs the same conditional Cypher straight on Neo4j,
// one write transaction per operation, without the server.

// lifeOps are the operation types of a lifecycle, in order.
var lifeOps = []string{"create", "claim", "heartbeat", "metrics", "complete"}

// clock collects durations by name, for one phase at a time.
type clock struct {
	mu  sync.Mutex
	lat map[string][]time.Duration
	n   int
}

func (k *clock) add(name string, d time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lat == nil {
		k.lat = map[string][]time.Duration{}
	}
	k.lat[name] = append(k.lat[name], d)
	k.n++
}

// take returns what was collected (each list sorted) and starts afresh.
func (k *clock) take() (map[string][]time.Duration, int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	lat, n := k.lat, k.n
	k.lat, k.n = nil, 0
	for _, l := range lat {
		slices.Sort(l)
	}
	return lat, n
}

func percentile(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(p*float64(len(l))+0.999999) - 1
	return l[min(max(i, 0), len(l)-1)]
}

func total(l []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range l {
		t += d
	}
	return t
}

// lifecycleShape is what one lifecycle does, shared by both sides.
type lifecycleShape struct {
	f          fixture.Fixture
	tag        string
	heartbeats int
	metrics    int // per report; 0 when the metrics route is not there
}

// spec is the i-th run: it names the workflow template and model, the study and two
// input datasets, so creating it checks five references as a real run's creation would.
func (s lifecycleShape) spec(i int) map[string]any {
	return map[string]any{
		"name": fmt.Sprintf("bench lifecycle %d", i), "kind": "task", "description": "a tracked run of scripts/bench",
		"tags":     map[string]string{"bench": s.tag},
		"ref":      map[string]any{"workflow_template_id": s.f.Workflow, "model_id": s.f.Model},
		"study_id": s.f.Study,
		"inputs": []any{map[string]any{"id": s.f.Dataset(i, 0), "role": "data"},
			map[string]any{"id": s.f.Dataset(i, 1), "role": "data"}},
	}
}

func (s lifecycleShape) metricList() []map[string]any {
	ms := make([]map[string]any, s.metrics)
	for i := range ms {
		ms[i] = map[string]any{"name": "loss", "node_id": "train", "value": 0.1, "step": i}
	}
	return ms
}

// opsPerLifecycle is how many operations one lifecycle makes.
func (s lifecycleShape) opsPerLifecycle() int {
	n := 3 + s.heartbeats
	if s.metrics > 0 {
		n++
	}
	return n
}

// --- through the API ---

type apiLifecycle struct {
	lifecycleShape
	creator, executor *apiclient.Client
	ops               clock
}

func (l *apiLifecycle) call(ctx context.Context, c *apiclient.Client, op, path string, body any, want int) (apiclient.Response, error) {
	t0 := time.Now()
	r, err := c.Do(ctx, "POST", path, body)
	d := time.Since(t0)
	if err != nil {
		return r, fmt.Errorf("%s: %w", op, err)
	}
	if r.Status != want {
		return r, &apiclient.APIError{Method: "POST", Path: path, Status: r.Status, Body: string(r.Body)}
	}
	l.ops.add(op, d)
	return r, nil
}

// run is the i-th lifecycle.
func (l *apiLifecycle) run(ctx context.Context, i int) (int, error) {
	r, err := l.call(ctx, l.creator, "create", "/api/v1/runs", l.spec(i), http.StatusCreated)
	if err != nil {
		return 0, err
	}
	var rec struct {
		ID string `json:"id"`
	}
	if err := r.JSON(&rec); err != nil || rec.ID == "" {
		return 0, fmt.Errorf("create: 201 without an id: %s", r.Body)
	}
	base := "/api/v1/runs/" + rec.ID
	if _, err := l.call(ctx, l.executor, "claim", base+":claim", nil, http.StatusOK); err != nil {
		return 0, err
	}
	for range l.heartbeats {
		if _, err := l.call(ctx, l.executor, "heartbeat", base+":heartbeat", nil, http.StatusOK); err != nil {
			return 0, err
		}
	}
	if l.metrics > 0 {
		r, err := l.call(ctx, l.executor, "metrics", base+"/metrics", map[string]any{"metrics": l.metricList()}, http.StatusOK)
		if err != nil {
			return 0, err
		}
		if n := bytes.Count(r.Body, []byte(`"status":"OK"`)); n != l.metrics {
			return 0, fmt.Errorf("metrics: %d of %d OK: %s", n, l.metrics, r.Body)
		}
	}
	if _, err := l.call(ctx, l.executor, "complete", base+":complete", map[string]any{"reason": "bench"}, http.StatusOK); err != nil {
		return 0, err
	}
	return 1, nil
}

// probeMetrics runs one lifecycle by hand to learn whether the metrics route is there:
// "" when it answers 200, else why the metrics step is left out on both sides.
func (l *apiLifecycle) probeMetrics(ctx context.Context, i int) (string, error) {
	r, err := l.creator.Do(ctx, "POST", "/api/v1/runs", l.spec(i))
	if err != nil {
		return "", err
	}
	var rec struct {
		ID string `json:"id"`
	}
	if r.Status != http.StatusCreated || r.JSON(&rec) != nil || rec.ID == "" {
		return "", &apiclient.APIError{Method: "POST", Path: "/api/v1/runs", Status: r.Status, Body: string(r.Body)}
	}
	base := "/api/v1/runs/" + rec.ID
	if r, err := l.executor.Do(ctx, "POST", base+":claim", nil); err != nil || r.Status != http.StatusOK {
		return "", errors.Join(err, fmt.Errorf("claim with the executor token: %d %s", r.Status, r.Body))
	}
	m, err := l.executor.Do(ctx, "POST", base+"/metrics", map[string]any{"metrics": []any{map[string]any{"name": "loss", "node_id": "train", "value": 0.1, "step": 0}}})
	if err != nil {
		return "", err
	}
	if r, err := l.executor.Do(ctx, "POST", base+":complete", map[string]any{"reason": "probe"}); err != nil || r.Status != http.StatusOK {
		return "", errors.Join(err, fmt.Errorf("complete: %d %s", r.Status, r.Body))
	}
	switch m.Status {
	case http.StatusOK:
		return "", nil
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return fmt.Sprintf("POST /api/v1/runs/{id}/metrics answered %d: the metrics route is not in this build, so neither side reports metrics", m.Status), nil
	}
	return "", fmt.Errorf("POST %s/metrics: %d %s", base, m.Status, m.Body)
}

// executorToken makes a writer token in the server's token file with the binary, and
// waits until the server (which rereads the file when it changes) takes it. Without one,
// the admin token acts as the executor, which an admin may.
func (b *bench) executorToken(ctx context.Context) (*apiclient.Client, string) {
	cmd := exec.CommandContext(ctx, b.opt.bin, "token", "create", "--role", "writer", "--name", "bench executor "+b.prefix)
	cmd.Env = append(os.Environ(), "PROVGRAPH_TOKEN_FILE="+b.srv.TokenFile)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	tok := strings.TrimSpace(string(out))
	if err != nil || tok == "" {
		return b.api, fmt.Sprintf("The admin token acted as the executor (`token create` failed: %v %s)", err, strings.TrimSpace(errb.String()))
	}
	c := apiclient.New(b.srv.URL, tok, 64)
	var last apiclient.Response
	for range 25 {
		r, err := c.Do(ctx, "GET", "/api/v1/runs?page_size=1", nil)
		if err == nil && r.Status == http.StatusOK {
			return c, "Claims, heartbeats, metrics and completes used a separate writer token made with `provgraph token create --role writer` (the executor); creates used the admin token"
		}
		last = r
		time.Sleep(200 * time.Millisecond)
	}
	return b.api, fmt.Sprintf("The admin token acted as the executor (the server did not take the new writer token: %d %s)", last.Status, last.Body)
}

// --- straight to Neo4j ---

// The statements below are copies of the server's; keep them in sync.

// rawLockGuardsCypher mirrors graph.lockGuards (graph/modelrun.go), called by
// graph.checkRunRefs with one of rawGuardStripes stripes (graph.guardStripes).
const rawLockGuardsCypher = `
		UNWIND $keys AS key
		MERGE (g:Guard {key:key})
		SET g.locked_ = true REMOVE g.locked_`

const rawGuardStripes = 8

// rawCheckRefsCypher mirrors the read of graph.checkRunRefs (graph/runs.go).
const rawCheckRefsCypher = `
		UNWIND $ids AS id
		MATCH (n:Record {id:id}) WHERE n.deleted_at IS NULL
		RETURN id, n.kind AS kind`

// rawCreateRunCypher mirrors the write of graph.(*Runs).CreateRun (graph/runs.go).
const rawCreateRunCypher = `
			MERGE (u:User:Agent {subject:$subject})
			ON CREATE SET u.id = $user, u.name = $name, u.kind = 'User'
			CREATE (r:Record:Run:Activity) SET r = $props
			CREATE (r)-[:WAS_ATTRIBUTED_TO {role:'creator', time:$now}]->(u)
			CREATE (e:RunEvent:Entity {id:$id + '/events/1', run_id:$id, seq:1, op:'create', to:'PENDING', at:$now,
				actor:$subject, attempt:1, name:'create'})
			CREATE (e)-[:WAS_ATTRIBUTED_TO {role:'actor', time:$now}]->(u)
			CREATE (r)-[:WAS_INFLUENCED_BY {role:'create'}]->(e)
			WITH r
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
			RETURN r.id AS id`

// rawLockRunCypher mirrors the first statement of graph.apply (graph/runs.go).
const rawLockRunCypher = `
		OPTIONAL MATCH (r:Record:Run {id:$id})
		CALL (r) { WITH r WHERE r IS NOT NULL SET r.locked_ = true REMOVE r.locked_ }
		RETURN r IS NOT NULL AS found, r.state AS state, r.executor AS executor, r.deleted_at IS NOT NULL AS deleted`

// rawHeartbeatCypher mirrors the heartbeat write of graph.apply.
const rawHeartbeatCypher = `
			MATCH (r:Record:Run {id:$id}) WHERE r.state = $from
			SET r.lease_until = $until, r.heartbeat_at = $now
			RETURN count(r) AS n`

// rawTransitionCypher mirrors the transition write of graph.apply (%s: the link from the
// run to its event).
const rawTransitionCypher = `
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
		RETURN count(r) AS n`

// rawMetricsReadCypher and rawMetricsWriteCypher mirror graph.(*Runs).AddMetrics
// (graph/metrics.go).
const rawMetricsReadCypher = `
			OPTIONAL MATCH (r:Record:Run {id:$id}) WHERE r.deleted_at IS NULL
			RETURN r IS NOT NULL AS found, r.executor AS executor, r.state AS state`

const rawMetricsWriteCypher = `
			UNWIND $rows AS row
			MERGE (m:Metric {key:row.key})
			ON CREATE SET m.run_id = $id, m.name = row.name, m.node_id = row.node, m.value = row.value, m.step = row.step,
				m.reported_at = $now, m.reported_by = $subject, m.nonce = $nonce
			RETURN row.i AS i, m.nonce = $nonce AS fresh`

// rawReadRunCypher is graph.readRun, which the server runs after every operation to
// answer with the run; the raw side does not (it is timed only in a serial probe).
const rawReadRunCypher = `
		MATCH (r:Record:Run {id:$id})
		CALL (r) {
			OPTIONAL MATCH (r)-[]->(e:RunEvent)
			RETURN collect(e {.*}) AS events
		}
		CALL (r) {
			OPTIONAL MATCH (o)-[g:WAS_GENERATED_BY]->(r)
			RETURN collect({id:o.id, role:g.role}) AS outputs
		}
		RETURN r, events, outputs`

type rawLifecycle struct {
	lifecycleShape
	w                 *rawWriter
	ids               *registry.IDs
	creator, executor registry.Actor
	ops, stmts        clock
	mu                sync.Mutex
	done              []string // ids of completed runs, for the probe
}

// stmtFunc runs one statement of a transaction and returns its rows.
type stmtFunc func(name, cypher string, params map[string]any) ([]*neo4j.Record, error)

// tx runs one operation as one managed write transaction, as graph.DB.write does, timing
// the operation and each statement (named "<op>: <statement>").
func (l *rawLifecycle) tx(ctx context.Context, op string, work func(stmt stmtFunc) error) error {
	s := l.w.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: l.w.database, AccessMode: neo4j.AccessModeWrite})
	defer s.Close(context.WithoutCancel(ctx))
	var spent time.Duration
	type timing struct {
		name string
		d    time.Duration
	}
	var timings []timing
	t0 := time.Now()
	_, err := s.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		timings, spent = timings[:0], 0
		stmt := func(name, cypher string, params map[string]any) ([]*neo4j.Record, error) {
			s0 := time.Now()
			res, err := tx.Run(ctx, cypher, params)
			if err != nil {
				return nil, err
			}
			recs, err := res.Collect(ctx)
			d := time.Since(s0)
			timings, spent = append(timings, timing{name, d}), spent+d
			return recs, err
		}
		return nil, work(stmt)
	})
	d := time.Since(t0)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	l.ops.add(op, d)
	for _, t := range timings {
		l.stmts.add(op+": "+t.name, t.d)
	}
	l.stmts.add(op+": begin, commit, session", d-spent)
	return nil
}

func first(recs []*neo4j.Record) *neo4j.Record {
	if len(recs) == 0 {
		return &neo4j.Record{}
	}
	return recs[0]
}

func getStr(r *neo4j.Record, key string) string {
	v, _ := r.Get(key)
	s, _ := v.(string)
	return s
}

// create mirrors graph.(*Runs).CreateRun with graph.checkRunRefs (no idempotency key is
// sent on either side, and the run is not read back).
func (l *rawLifecycle) create(ctx context.Context, i int) (string, error) {
	raw, err := json.Marshal(l.spec(i)) // compact, keys sorted: what the server stores
	if err != nil {
		return "", err
	}
	var sp runs.RunSpec
	if err := json.Unmarshal(raw, &sp); err != nil {
		return "", err
	}
	now := time.Now().UTC()
	id := l.ids.New(now)
	refs := sp.Refs()
	err = l.tx(ctx, "create", func(stmt stmtFunc) error {
		ids := make([]string, len(refs))
		keys := make([]string, len(refs))
		stripe := rand.IntN(rawGuardStripes)
		for k, r := range refs {
			ids[k], keys[k] = r.ID, fmt.Sprintf("%s#%d", r.ID, stripe)
		}
		slices.Sort(keys)
		if _, err := stmt("lock guards", rawLockGuardsCypher, map[string]any{"keys": keys}); err != nil {
			return err
		}
		recs, err := stmt("check references", rawCheckRefsCypher, map[string]any{"ids": ids})
		if err != nil {
			return err
		}
		kinds := map[string]string{}
		for _, r := range recs {
			kinds[getStr(r, "id")] = getStr(r, "kind")
		}
		for _, r := range refs {
			if !slices.Contains(r.Kinds, kinds[r.ID]) {
				return fmt.Errorf("%s: %s is not a %s", r.Pointer, r.ID, strings.Join(r.Kinds, " or "))
			}
		}
		tags := make([]string, 0, len(sp.Tags))
		for k, v := range sp.Tags {
			tags = append(tags, k+"="+v)
		}
		slices.Sort(tags)
		props := map[string]any{
			"id": id, "kind": "Run", "version": 1, "name": sp.Name, "description": sp.Description, "run_kind": sp.Kind,
			"document": string(raw), "state": string(runs.Pending), "archived": false, "attempt": 1, "events": 1,
			"created_at": now, "created_by": l.creator.Subject, "updated_at": now, "updated_by": l.creator.Subject,
			"tags": tags, "workflow_template_id": sp.Ref.WorkflowTemplateID, "study_id": sp.StudyID,
		}
		inputs := make([]map[string]any, 0, len(sp.Inputs))
		for k, in := range sp.Inputs {
			inputs = append(inputs, map[string]any{"id": in.ID, "role": in.Role, "field": fmt.Sprintf("/inputs/%d/id", k)})
		}
		_, err = stmt("write", rawCreateRunCypher, map[string]any{"subject": l.creator.Subject, "user": "agents/" + l.creator.Subject,
			"name": l.creator.Name, "props": props, "now": now, "id": id, "inputs": inputs, "wf": sp.Ref.WorkflowTemplateID,
			"model": sp.Ref.ModelID, "study": sp.StudyID})
		return err
	})
	return id, err
}

// apply mirrors graph.apply for claim, heartbeat and complete (no outputs, so no
// reference check; the run is not read back).
func (l *rawLifecycle) apply(ctx context.Context, id string, op runs.Op, reason string) error {
	now := time.Now().UTC()
	return l.tx(ctx, string(op), func(stmt stmtFunc) error {
		recs, err := stmt("lock and read the run", rawLockRunCypher, map[string]any{"id": id})
		if err != nil {
			return err
		}
		cur := first(recs)
		if found, _ := cur.Get("found"); found != true {
			return fmt.Errorf("no run %s", id)
		}
		if deleted, _ := cur.Get("deleted"); deleted == true {
			return fmt.Errorf("run %s was deleted", id)
		}
		from := runs.State(getStr(cur, "state"))
		to, err := runs.Next(op, from)
		if err != nil {
			return err
		}
		if executor := getStr(cur, "executor"); op != runs.OpClaim && executor != l.executor.Subject {
			return fmt.Errorf("only the executor that claimed run %s (%s) may %s it", id, executor, op)
		}
		if op == runs.OpHeartbeat {
			_, err := stmt("extend the lease", rawHeartbeatCypher, map[string]any{"id": id, "from": string(from),
				"until": now.Add(runs.DefaultLease), "now": now})
			return err
		}
		link := "WAS_INFLUENCED_BY"
		switch {
		case op == runs.OpClaim:
			link = "WAS_STARTED_BY"
		case to.Terminal():
			link = "WAS_ENDED_BY"
		}
		recs, err = stmt("transition and event", fmt.Sprintf(rawTransitionCypher, link), map[string]any{
			"subject": l.executor.Subject, "user": "agents/" + l.executor.Subject, "name": l.executor.Name,
			"id": id, "from": string(from), "to": string(to), "op": string(op), "now": now, "reason": reason,
			"until": now.Add(runs.DefaultLease), "terminal": to.Terminal(), "outputs": []map[string]any{}})
		if err != nil {
			return err
		}
		if n, _ := first(recs).Get("n"); n != int64(1) {
			return fmt.Errorf("cannot %s run %s from %s", op, id, from)
		}
		return nil
	})
}

// report mirrors graph.(*Runs).AddMetrics.
func (l *rawLifecycle) report(ctx context.Context, id string) error {
	now := time.Now().UTC()
	nonce := make([]byte, 12)
	_, _ = crand.Read(nonce)
	return l.tx(ctx, "metrics", func(stmt stmtFunc) error {
		recs, err := stmt("read the run", rawMetricsReadCypher, map[string]any{"id": id})
		if err != nil {
			return err
		}
		cur := first(recs)
		if found, _ := cur.Get("found"); found != true {
			return fmt.Errorf("no run %s", id)
		}
		if executor := getStr(cur, "executor"); executor != l.executor.Subject {
			return fmt.Errorf("only the executor that claimed run %s (%s) may report its metrics", id, executor)
		}
		ms := l.metricList()
		rows := make([]map[string]any, len(ms))
		for i, m := range ms {
			step := int64(m["step"].(int))
			key := runs.Metric{Name: "loss", NodeID: "train", Step: &step}.Key()
			rows[i] = map[string]any{"i": i, "key": id + "\x00" + key, "name": m["name"], "node": m["node_id"], "value": m["value"], "step": step}
		}
		recs, err = stmt("merge the metrics", rawMetricsWriteCypher, map[string]any{"rows": rows, "id": id, "now": now,
			"subject": l.executor.Subject, "nonce": hex.EncodeToString(nonce)})
		if err != nil {
			return err
		}
		for _, r := range recs {
			if f, _ := r.Get("fresh"); f != true {
				return fmt.Errorf("metrics: a duplicate in a fresh run %s", id)
			}
		}
		return nil
	})
}

// run is the i-th lifecycle, straight to Neo4j.
func (l *rawLifecycle) run(ctx context.Context, i int) (int, error) {
	id, err := l.create(ctx, i)
	if err != nil {
		return 0, err
	}
	if err := l.apply(ctx, id, runs.OpClaim, ""); err != nil {
		return 0, err
	}
	for range l.heartbeats {
		if err := l.apply(ctx, id, runs.OpHeartbeat, ""); err != nil {
			return 0, err
		}
	}
	if l.metrics > 0 {
		if err := l.report(ctx, id); err != nil {
			return 0, err
		}
	}
	if err := l.apply(ctx, id, runs.OpComplete, "bench"); err != nil {
		return 0, err
	}
	l.mu.Lock()
	if len(l.done) < 64 {
		l.done = append(l.done, id)
	}
	l.mu.Unlock()
	return 1, nil
}

// probeReadBack times, one at a time, graph.readRun (which the server runs after every
// operation to answer with the run, and the raw side leaves out) against the lock
// statement every operation starts with, on completed runs.
func (l *rawLifecycle) probeReadBack(ctx context.Context) (readRun, lock []time.Duration, err error) {
	for _, id := range l.done {
		for _, q := range []struct {
			cypher string
			into   *[]time.Duration
		}{{rawReadRunCypher, &readRun}, {rawLockRunCypher, &lock}} {
			t0 := time.Now()
			res, err := neo4j.ExecuteQuery(ctx, l.w.driver, q.cypher, map[string]any{"id": id}, neo4j.EagerResultTransformer,
				neo4j.ExecuteQueryWithDatabase(l.w.database), neo4j.ExecuteQueryWithWritersRouting())
			if err != nil {
				return nil, nil, err
			}
			if len(res.Records) == 0 {
				return nil, nil, fmt.Errorf("probe: no run %s", id)
			}
			*q.into = append(*q.into, time.Since(t0))
		}
	}
	slices.Sort(readRun)
	slices.Sort(lock)
	return readRun, lock, nil
}

// --- the section ---

func (b *bench) lifecycleSection(ctx context.Context) ([]result, error) {
	shape := lifecycleShape{f: b.f, tag: b.prefix, heartbeats: b.opt.lifeHeartbeats, metrics: b.opt.lifeMetrics}
	execClient, tokenNote := b.executorToken(ctx)
	fmt.Fprintf(b.log, "   %s\n", tokenNote)
	api := &apiLifecycle{lifecycleShape: shape, creator: b.api, executor: execClient}
	why, err := api.probeMetrics(ctx, b.seq.next())
	if err != nil {
		return nil, fmt.Errorf("probing the lifecycle routes: %w", err)
	}
	notes := []string{tokenNote}
	if why != "" {
		fmt.Fprintf(b.log, "   %s\n", why)
		shape.metrics, api.metrics = 0, 0
		notes = append(notes, why)
	}
	raw := &rawLifecycle{lifecycleShape: shape, w: b.raw, ids: registry.NewIDs(b.prefix + "/raw"),
		creator: registry.Actor{Subject: "env:admin", Name: "env:admin"},
		// A new agent each run, as the API side's executor token is.
		executor: registry.Actor{Subject: "bench:executor:" + b.prefix, Name: "bench raw executor"}}

	var out []result
	sides := []struct {
		label string
		o     op
		ops   *clock
	}{{"raw lifecycle", raw.run, &raw.ops}, {"API lifecycle", api.run, &api.ops}}
	for _, s := range sides {
		if b.opt.warmup > 0 {
			drive(ctx, phase{Concurrency: b.opt.lifeConcurrencies[0], Duration: b.opt.warmup}, &b.seq, s.o)
		}
		for _, c := range b.opt.lifeConcurrencies {
			s.ops.take()
			raw.stmts.take()
			r := b.measureOne(ctx, "lifecycle", s.label, 1, c, b.opt.lifeDuration, s.o)
			r.Ops, r.Operations = s.ops.take()
			stmts, _ := raw.stmts.take()
			if s.ops == &raw.ops {
				r.Stmts = stmts
			}
			r.Notes = notes
			fmt.Fprintf(b.log, "   %-22s c=%-3d %8.1f operations/s", s.label, c, float64(r.Operations)/r.Elapsed.Seconds())
			for _, op := range lifeOps {
				if l := r.Ops[op]; len(l) > 0 {
					fmt.Fprintf(b.log, ", %s p50 %s p99 %s", op, percentile(l, 0.5).Round(100*time.Microsecond), percentile(l, 0.99).Round(100*time.Microsecond))
				}
			}
			fmt.Fprintln(b.log)
			out = append(out, r)
		}
	}
	if rr, lk, err := raw.probeReadBack(ctx); err == nil && len(rr) > 0 {
		for i := range out {
			out[i].ReadBack, out[i].LockProbe = rr, lk
		}
		fmt.Fprintf(b.log, "   read-back probe (%d runs, one at a time): readRun p50 %s, lock statement p50 %s\n",
			len(rr), percentile(rr, 0.5).Round(10*time.Microsecond), percentile(lk, 0.5).Round(10*time.Microsecond))
	} else if err != nil {
		fmt.Fprintf(b.log, "   read-back probe: %v\n", err)
	}
	return out, nil
}

// lifecycleMarkdown writes the lifecycle tables: the rates, the latency of each operation
// type on both sides, and where the raw side's time goes, statement by statement.
func (rep report) lifecycleMarkdown(p func(string, ...any)) {
	var rows []result
	for _, r := range rep.Results {
		if r.Section == "lifecycle" && r.Skipped == "" {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	shape := lifecycleShape{heartbeats: rep.Options.lifeHeartbeats, metrics: rep.Options.lifeMetrics}
	metricsOn := false
	for _, r := range rows {
		metricsOn = metricsOn || len(r.Ops["metrics"]) > 0
	}
	steps := fmt.Sprintf("create → claim → %d heartbeats → one report of %d metrics → complete", shape.heartbeats, shape.metrics)
	if !metricsOn {
		shape.metrics = 0
		steps = fmt.Sprintf("create → claim → %d heartbeats → complete (no metrics step)", shape.heartbeats)
	}
	p("\n### Tracked-run lifecycles\n\n")
	p("One lifecycle: %s, %d operations, one after another; the raw side runs the same conditional Cypher as `graph/runs.go` and `graph/metrics.go`, one write transaction per operation, without the server (and without the read-back of the run the server answers with). ",
		steps, shape.opsPerLifecycle())
	for _, n := range rows[0].Notes {
		p("%s. ", strings.TrimSuffix(n, "."))
	}
	p("\n\n| what | concurrency | lifecycles | errors | lifecycles/s | operations/s | lifecycle p50 | lifecycle p99 | server CPU/operation | machine busy | transactions open / waiting for a lock |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rows {
		cpu := "(no server)"
		if r.Label == "API lifecycle" && r.Operations > 0 {
			cpu = msPrec(r.ServerCPU/time.Duration(r.Operations), 2)
		}
		p("| %s | %d | %d | %d | %.1f | %.0f | %s | %s | %s | %.0f%% | %.1f / %.1f |\n", r.Label, r.Concurrency, r.Requests, r.Errors, r.Rate(),
			float64(r.Operations)/r.Elapsed.Seconds(), ms(r.Percentile(0.50)), ms(r.Percentile(0.99)), cpu, r.MachineBusy*100, r.Open, r.Blocked)
	}

	p("\n| operation | concurrency | API p50 | API p99 | raw p50 | raw p99 | API / raw, mean |\n|---|--:|--:|--:|--:|--:|--:|\n")
	for _, c := range rep.Options.lifeConcurrencies {
		api, _ := rep.find("lifecycle", c, 1, "API lifecycle")
		raw, _ := rep.find("lifecycle", c, 1, "raw lifecycle")
		for _, op := range lifeOps {
			a, w := api.Ops[op], raw.Ops[op]
			if len(a) == 0 && len(w) == 0 {
				continue
			}
			ratio := ""
			if len(a) > 0 && len(w) > 0 && total(w) > 0 {
				ratio = fmt.Sprintf("%.1f×", (float64(total(a))/float64(len(a)))/(float64(total(w))/float64(len(w))))
			}
			p("| %s | %d | %s | %s | %s | %s | %s |\n", op, c, ms(percentile(a, 0.5)), ms(percentile(a, 0.99)), ms(percentile(w, 0.5)), ms(percentile(w, 0.99)), ratio)
		}
	}

	for _, c := range rep.Options.lifeConcurrencies {
		raw, ok := rep.find("lifecycle", c, 1, "raw lifecycle")
		if !ok || len(raw.Stmts) == 0 {
			continue
		}
		var all time.Duration
		names := make([]string, 0, len(raw.Stmts))
		for n, l := range raw.Stmts {
			all += total(l)
			names = append(names, n)
		}
		slices.SortFunc(names, func(x, y string) int { return int(total(raw.Stmts[y]) - total(raw.Stmts[x])) })
		p("\nWhere the raw side's time goes at concurrency %d (client-side time of each statement, including the Bolt round trip and lock waits; share of all statement time):\n\n", c)
		p("| operation: statement | count | mean | p50 | p99 | share |\n|---|--:|--:|--:|--:|--:|\n")
		for _, n := range names {
			l := raw.Stmts[n]
			p("| %s | %d | %s | %s | %s | %.0f%% |\n", n, len(l), msPrec(total(l)/time.Duration(len(l)), 2), msPrec(percentile(l, 0.5), 2),
				msPrec(percentile(l, 0.99), 2), 100*float64(total(l))/float64(all))
		}
	}
	if rb, lk := rows[0].ReadBack, rows[0].LockProbe; len(rb) > 0 {
		p("\nThe server also reads every run back (`graph.readRun`) after each operation, in the same transaction, to answer with it; the raw side does not. Timed one at a time afterwards on %d completed raw runs: readRun p50 %s, p99 %s, against p50 %s, p99 %s for the lock statement that starts every operation.\n",
			len(rb), msPrec(percentile(rb, 0.5), 2), msPrec(percentile(rb, 0.99), 2), msPrec(percentile(lk, 0.5), 2), msPrec(percentile(lk, 0.99), 2))
	}
}
