package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	"provgraph/registry"
	"provgraph/scripts/internal/apiclient"
	"provgraph/scripts/internal/fixture"
)

// rawWriter writes the graph of a model run straight to Neo4j: one hand-written Cypher
// write transaction per run with the nodes, relationships and properties
// graph/modelrun.go writes, and none of its reads (no idempotency claim, no locking and
// reading of the referenced records, no rule checks, no read-back). No registry on this
// database can register a run faster.
type rawWriter struct {
	driver   neo4j.DriverWithContext
	database string
	ids      *registry.IDs
	f        fixture.Fixture
	// subject is the :User the runs are attributed to: the server's env admin token.
	subject string
	// provJSON is the PROV-JSON the server stored with run provJSONRun (registered
	// through the API); each raw run stores it with that run's id and datasets replaced
	// by its own, so the property has the size and shape the server writes.
	provJSON    string
	provJSONRun int
	provJSONID  string
}

func newRawWriter(ctx context.Context, uri, user, password, database string, ids *registry.IDs, f fixture.Fixture) (*rawWriter, error) {
	auth := neo4j.NoAuth()
	if user != "" {
		auth = neo4j.BasicAuth(user, password, "")
	}
	// The server's pool settings (graph.Open).
	d, err := neo4j.NewDriverWithContext(uri, auth, func(c *config.Config) {
		c.MaxConnectionPoolSize = 100
		c.ConnectionAcquisitionTimeout = 5 * time.Second
	})
	if err != nil {
		return nil, err
	}
	if err := d.VerifyConnectivity(ctx); err != nil {
		d.Close(ctx)
		return nil, fmt.Errorf("neo4j at %s: %w", uri, err)
	}
	return &rawWriter{driver: d, database: database, ids: ids, f: f, subject: "env:admin"}, nil
}

func (w *rawWriter) Close(ctx context.Context) error { return w.driver.Close(ctx) }

// rawRunCypher is graph/modelrun.go's write of a first version (writeRunsCypher for one
// run, and the prov_json it then sets), with the user MERGE folded in: the server runs
// those as separate statements of the same transaction.
const rawRunCypher = `
	MERGE (u:User:Agent {subject:$subject})
	ON CREATE SET u.id = 'agents/' + $subject, u.name = $subject, u.kind = 'User'
	WITH u
	MATCH (wf:Record {id:$wf}), (model:Record {id:$model}), (modeller:Record {id:$modeller})
	CREATE (r:Record:ModelRun:Activity) SET r = $props
	CREATE (r)-[:WAS_ATTRIBUTED_TO {role:'creator', time:$now}]->(u)
	CREATE (r)-[:WAS_ASSOCIATED_WITH {role:'modeller', plan:$wf, time:$start}]->(modeller)
	CREATE (r)-[:WAS_INFLUENCED_BY {role:'plan', field:'/workflow_template_id', time:$start}]->(wf)
	CREATE (r)-[:USED {role:'model', model_version:$model_version, time:$start}]->(model)
	WITH r, modeller
	CALL (r) {
		UNWIND $inputs AS i
		MATCH (d:Record {id:i.id})
		CREATE (r)-[:USED {role:i.role, resources:i.resources, field:i.field, time:$start}]->(d)
	}
	CALL (r, modeller) {
		UNWIND $outputs AS o
		MATCH (d:Record {id:o.id})
		CREATE (d)-[:WAS_GENERATED_BY {role:o.role, resources:o.resources, field:o.field, time:$end}]->(r)
		CREATE (d)-[:WAS_ATTRIBUTED_TO {role:'modeller', activity:$id, time:$end}]->(modeller)
	}
	CALL (modeller) {
		MATCH (org:Record {id:$org})
		CREATE (modeller)-[:ACTED_ON_BEHALF_OF {activity:$id, time:$start}]->(org)
	}
	CALL (r) {
		MATCH (study:Record {id:$study})
		CREATE (r)-[:WAS_INFORMED_BY {role:'study', field:'/study_id'}]->(study)
	}
	RETURN r.id AS id`

// learnProvJSON registers run i through the API and keeps the PROV-JSON the server
// stored with it (the server reads its depth-0 PROV document back from the graph in the
// write transaction and encodes it; the floor only writes a string of that shape).
func (w *rawWriter) learnProvJSON(ctx context.Context, c *apiclient.Client, i int) error {
	r, err := c.Do(ctx, "POST", "/api/v1/model-runs", w.f.ModelRun(i))
	if err != nil {
		return err
	}
	var rec struct {
		ID       string          `json:"id"`
		ProvJSON json.RawMessage `json:"prov_json"`
	}
	if r.Status != 201 || r.JSON(&rec) != nil || rec.ID == "" {
		return fmt.Errorf("registering run %d to learn its PROV-JSON: %d %s", i, r.Status, r.Body)
	}
	w.provJSON, w.provJSONRun, w.provJSONID = string(rec.ProvJSON), i, rec.ID
	return nil
}

// provJSONFor is the learnt PROV-JSON rewritten for run i with id.
func (w *rawWriter) provJSONFor(i int, id string) string {
	if w.provJSON == "" {
		return ""
	}
	pairs := []string{w.provJSONID, id}
	for k := range 4 {
		pairs = append(pairs, w.f.Dataset(w.provJSONRun, k), w.f.Dataset(i, k))
	}
	return strings.NewReplacer(pairs...).Replace(w.provJSON)
}

// params builds the parameters of the i-th run exactly as graph/modelrun.go does.
func (w *rawWriter) params(i int) (map[string]any, error) {
	doc := w.f.ModelRun(i)
	raw, err := json.Marshal(doc) // compact, keys sorted: what the server stores
	if err != nil {
		return nil, err
	}
	start, err := time.Parse(time.RFC3339, doc["start_time"].(string))
	if err != nil {
		return nil, err
	}
	end, err := time.Parse(time.RFC3339, doc["end_time"].(string))
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	id := w.ids.New(now)
	side := func(name string) []map[string]any {
		var out []map[string]any
		for k, d := range doc[name].([]any) {
			d := d.(map[string]any)
			res, _ := json.Marshal(d["resources"])
			out = append(out, map[string]any{"id": d["dataset_id"], "role": d["dataset_template_id"], "resources": string(res),
				"field": fmt.Sprintf("/%s/%d/dataset_id", name, k)})
		}
		return out
	}
	assoc := doc["associations"].(map[string]string)
	props := map[string]any{
		"id": id, "kind": "ModelRun", "version": 1, "name": doc["display_name"],
		"document": string(raw), "updated_at": now, "updated_by": w.subject,
		"created_at": now, "created_by": w.subject,
		"startedAtTime": start, "endedAtTime": end,
		"workflow_template_id": doc["workflow_template_id"], "modeller_id": assoc["modeller_id"],
		"study_id": doc["study_id"], "model_version": doc["model_version"],
	}
	if pj := w.provJSONFor(i, id); pj != "" {
		props["prov_json"] = pj
	}
	return map[string]any{
		"props": props, "subject": w.subject, "now": now, "id": id,
		"wf": doc["workflow_template_id"], "model": w.f.Model, "model_version": doc["model_version"],
		"modeller": assoc["modeller_id"], "org": assoc["requesting_organisation_id"], "study": doc["study_id"],
		"start": start, "end": end, "inputs": side("inputs"), "outputs": side("outputs"),
	}, nil
}

// write registers the i-th run in one managed write transaction, as the server would
// (a session per request, retried by the driver on transient errors).
func (w *rawWriter) write(ctx context.Context, i int) (int, error) {
	p, err := w.params(i)
	if err != nil {
		return 0, err
	}
	s := w.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: w.database, AccessMode: neo4j.AccessModeWrite})
	defer s.Close(context.WithoutCancel(ctx))
	_, err = s.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, rawRunCypher, p)
		if err != nil {
			return nil, err
		}
		_, err = res.Single(ctx)
		return nil, err
	})
	if err != nil {
		return 0, err
	}
	return 1, nil
}

// neo4jVersion names the database server, for the report.
func (w *rawWriter) neo4jVersion(ctx context.Context) string {
	v, err := neo4j.ExecuteQuery(ctx, w.driver, "CALL dbms.components() YIELD name, versions, edition RETURN name + ' ' + versions[0] + ' ' + edition AS v",
		nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(w.database))
	if err != nil || len(v.Records) == 0 {
		return "unknown"
	}
	s, _ := v.Records[0].Values[0].(string)
	return s
}

// blockedTransactions counts the database's open transactions and those waiting for a
// lock, to tell lock contention from saturation.
func (w *rawWriter) blockedTransactions(ctx context.Context) (open, blocked int64, err error) {
	res, err := neo4j.ExecuteQuery(ctx, w.driver, `
		SHOW TRANSACTIONS YIELD status
		RETURN count(*) AS open, sum(CASE WHEN status STARTS WITH 'Blocked' THEN 1 ELSE 0 END) AS blocked`,
		nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(w.database))
	if err != nil || len(res.Records) == 0 {
		return 0, 0, err
	}
	open, _ = res.Records[0].Values[0].(int64)
	blocked, _ = res.Records[0].Values[1].(int64)
	return open - 1, blocked, nil // not counting this one
}
