package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"provgraph"
	"provgraph/registry"
	"provgraph/runs"
)

// ModelRuns registers complete model runs: every check and the write in one transaction.
type ModelRuns struct {
	DB *DB
}

var _ runs.ModelRunStore = (*ModelRuns)(nil)

var modelRunKind, _ = registry.KindByName("model-run")

// RegisterModelRun checks a model run against the graph and writes it with its PROV
// relations, or writes nothing.
func (s *ModelRuns) RegisterModelRun(ctx context.Context, w runs.ModelRunWrite) (registry.Record, error) {
	v, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		if w.IdemKey != "" {
			first, err := claimIdempotencyKey(ctx, tx, idemClaim{w.Actor.Subject, modelRunKind.Name, w.IdemKey, w.ID, string(w.Raw), w.Time})
			if err != nil {
				return nil, err
			}
			if first != "" {
				return getRecord(ctx, tx, modelRunKind, first, 0)
			}
		}
		if err := writeModelRun(ctx, tx, w, 1, registry.Record{}); err != nil {
			return nil, err
		}
		return getRecord(ctx, tx, modelRunKind, w.ID, 0)
	})
	if err != nil {
		return registry.Record{}, err
	}
	return v.(registry.Record), nil
}

// UpdateModelRun writes a new version that WAS_REVISION_OF the current one; the old
// version keeps its relations, so history shows what the run was first said to use.
func (s *ModelRuns) UpdateModelRun(ctx context.Context, w runs.ModelRunWrite) (registry.Record, error) {
	v, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		if err := lockRecords(ctx, tx, []string{w.ID}); err != nil {
			return nil, err
		}
		cur, err := getRecord(ctx, tx, modelRunKind, w.ID, 0)
		if err != nil {
			return nil, err
		}
		if err := writeModelRun(ctx, tx, w, cur.Version+1, cur); err != nil {
			return nil, err
		}
		return getRecord(ctx, tx, modelRunKind, w.ID, 0)
	})
	if err != nil {
		return registry.Record{}, err
	}
	return v.(registry.Record), nil
}

func writeModelRun(ctx context.Context, tx neo4j.ManagedTransaction, w runs.ModelRunWrite, version int, prev registry.Record) error {
	c, err := loadRunContext(ctx, tx, w.Run)
	if err != nil {
		return err
	}
	if errs := w.Run.Check(w.Run.WorkflowTemplateID, c); len(errs) > 0 {
		return provgraph.InvalidFields("the model run does not fit the records it names", errs)
	}
	user, err := mergeUser(ctx, tx, w.Actor)
	if err != nil {
		return err
	}
	mr := w.Run
	props := map[string]any{
		"id": w.ID, "kind": modelRunKind.Label, "version": version, "name": mr.DisplayName,
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
	if version > 1 {
		props["created_at"], props["created_by"], props["reason"] = prev.CreatedAt, prev.CreatedBy, w.Reason
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
	params := map[string]any{
		"props": props, "subject": user, "now": w.Time, "role": role, "id": w.ID, "prev": prev.Version,
		"wf": mr.WorkflowTemplateID, "model": c.Workflow.SoftwareID, "model_version": mr.ModelVersion,
		"modeller": mr.Associations.ModellerID, "org": mr.Associations.RequestingOrganisationID, "study": mr.StudyID,
		"start": mr.StartTime.Time, "end": mr.EndTime.Time,
		"inputs": datasets(mr.Inputs, "inputs"), "outputs": datasets(mr.Outputs, "outputs"),
	}
	_, err = run(ctx, tx, `
		OPTIONAL MATCH (old:Record:ModelRun {id:$id, version:$prev}) WHERE $prev > 0
		FOREACH (_ IN CASE WHEN old IS NULL THEN [] ELSE [1] END | REMOVE old:Record SET old:Revision)
		WITH old
		MATCH (u:User {subject:$subject}), (wf:Record {id:$wf}), (model:Record {id:$model}), (modeller:Record {id:$modeller})
		CREATE (r:Record:ModelRun:Activity) SET r = $props
		CREATE (r)-[:WAS_ATTRIBUTED_TO {role:$role, time:$now}]->(u)
		CREATE (r)-[:WAS_ASSOCIATED_WITH {role:'modeller', plan:$wf, time:$start}]->(modeller)
		CREATE (r)-[:WAS_INFLUENCED_BY {role:'plan', field:'/workflow_template_id', time:$start}]->(wf)
		CREATE (r)-[:USED {role:'model', model_version:$model_version, time:$start}]->(model)
		FOREACH (_ IN CASE WHEN old IS NULL THEN [] ELSE [1] END | CREATE (r)-[:WAS_REVISION_OF {time:$now}]->(old))
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
		CALL (r, modeller) {
			MATCH (org:Record {id:$org})
			CREATE (modeller)-[:ACTED_ON_BEHALF_OF {activity:$id, time:$start}]->(org)
		}
		CALL (r) {
			MATCH (study:Record {id:$study})
			CREATE (r)-[:WAS_INFORMED_BY {role:'study', field:'/study_id'}]->(study)
		}
		RETURN r.id AS id`, params)
	return err
}

// loadRunContext locks and reads every record a model run names, in two queries.
func loadRunContext(ctx context.Context, tx neo4j.ManagedTransaction, mr runs.ModelRun) (runs.Context, error) {
	c := runs.Context{Kinds: map[string]string{}, Templates: map[string]runs.DatasetTemplate{}}
	wf, err := run(ctx, tx, `
		OPTIONAL MATCH (w:Record {id:$id}) WHERE w.deleted_at IS NULL
		RETURN w.kind AS kind, w.document AS doc`, map[string]any{"id": mr.WorkflowTemplateID})
	if err != nil {
		return c, err
	}
	if kind := str(wf, "kind"); kind != "" {
		c.Kinds[mr.WorkflowTemplateID] = kind
		if kind == "WorkflowTemplate" {
			var w runs.Workflow
			if err := json.Unmarshal([]byte(str(wf, "doc")), &w); err != nil {
				return c, fmt.Errorf("stored workflow template %s: %w", mr.WorkflowTemplateID, err)
			}
			c.Workflow = &w
		}
	}
	ids := slices.Concat(mr.Refs(), mr.TemplateIDs(c.Workflow), []string{mr.WorkflowTemplateID})
	if c.Workflow != nil {
		ids = append(ids, c.Workflow.SoftwareID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	// Locked so that nothing named here is deleted before this run commits.
	if err := lockRecords(ctx, tx, ids); err != nil {
		return c, err
	}
	recs, err := collect(ctx, tx, `
		UNWIND $ids AS id
		MATCH (n:Record {id:id}) WHERE n.deleted_at IS NULL
		RETURN id, n.kind AS kind, CASE WHEN n:DatasetTemplate THEN n.document END AS doc`, map[string]any{"ids": ids})
	if err != nil {
		return c, err
	}
	for _, r := range recs {
		id, kind := str(r, "id"), str(r, "kind")
		c.Kinds[id] = kind
		if doc := str(r, "doc"); doc != "" {
			var t runs.DatasetTemplate
			if err := json.Unmarshal([]byte(doc), &t); err == nil {
				c.Templates[id] = t
			}
		}
	}
	return c, nil
}
