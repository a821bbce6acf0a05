package provena

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"provgraph"
	"provgraph/compat"
	"provgraph/lineage"
	"provgraph/registry"
	"provgraph/runs"
)

// Provena's job types and subtypes, and the states of a job that has ended.
const (
	jobType         = "PROV_LODGE"
	subLodge        = "MODEL_RUN_PROV_LODGE"
	subBatch        = "MODEL_RUN_BATCH_SUBMIT"
	subUpdate       = "MODEL_RUN_UPDATE"
	statusSucceeded = "SUCCEEDED"
	statusFailed    = "FAILED"
)

// flatRecord reads a ModelRunRecord sent to a Provena route into our flat model-run JSON:
// a body that is not a ModelRunRecord is 422 (at, the loc of the record in the body), and
// one whose dataset_type is wrong is 400, as everything our rules refuse is.
func flatRecord(raw []byte, at []any) ([]byte, error) {
	if errs := SchemaErrors(raw, at); len(errs) > 0 {
		return nil, &schemaError{errs}
	}
	flat, _, errs := runs.FromProvena(raw)
	if len(errs) > 0 {
		return nil, provgraph.InvalidFields("the model run record is not valid", errs)
	}
	return dropEmptyVersion(flat), nil
}

// dropEmptyVersion removes a model_version of "": Provena takes it as no version, and
// provgraph's schema wants a version to say something.
func dropEmptyVersion(flat []byte) []byte {
	var doc map[string]json.RawMessage
	if json.Unmarshal(flat, &doc) != nil || string(doc["model_version"]) != `""` {
		return flat
	}
	delete(doc, "model_version")
	out, err := json.Marshal(doc)
	if err != nil {
		return flat
	}
	return out
}

// recordInfo is Provena's ProvenanceRecordInfo of a stored run.
func recordInfo(rec registry.Record) (map[string]any, error) {
	run, err := ModelRunRecord(rec.Record)
	if err != nil {
		return nil, err
	}
	return map[string]any{"id": rec.ID, "prov_json": string(rec.ProvJSON), "record": run}, nil
}

func (a *api) job(r *http.Request, sub, batch string, payload any, status, info string, result any) (runs.ProvenaJob, error) {
	p, err := json.Marshal(payload)
	if err != nil {
		return runs.ProvenaJob{}, err
	}
	j := runs.ProvenaJob{SessionID: sessionID(), CreatedAt: a.Now().UTC(), Username: compat.Caller(r).Subject, BatchID: batch,
		Payload: p, JobType: jobType, JobSubType: sub, Status: status, Info: info}
	if result != nil {
		if j.Result, err = json.Marshal(result); err != nil {
			return runs.ProvenaJob{}, err
		}
	}
	return j, nil
}

func (a *api) register(w http.ResponseWriter, r *http.Request) {
	body, err := readJSON(r, nil)
	if err != nil {
		Fail(w, r, err)
		return
	}
	flat, err := flatRecord(body, []any{"body"})
	if err != nil {
		Fail(w, r, err)
		return
	}
	rec, err := a.ModelRuns.Register(r.Context(), flat, compat.Caller(r).Actor(), r.Header.Get("Idempotency-Key"))
	if err != nil {
		Fail(w, r, err)
		return
	}
	info, err := recordInfo(rec)
	if err != nil {
		Fail(w, r, err)
		return
	}
	j, err := a.job(r, subLodge, "", map[string]any{"record": info["record"], "revalidate": false, "user_info": ""}, statusSucceeded, "", map[string]any{"record": info})
	if err == nil {
		err = a.Jobs.AddProvenaJobs(r.Context(), []runs.ProvenaJob{j})
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"status": statusOK("registered model run " + rec.ID + "; its job has ended"), "session_id": j.SessionID})
}

// registerBatch registers each record on its own: one MODEL_RUN_BATCH_SUBMIT job whose
// result names the batch, and one MODEL_RUN_PROV_LODGE job per record, SUCCEEDED with the
// stored record or FAILED with why.
func (a *api) registerBatch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Records []json.RawMessage `json:"records"`
	}
	if _, err := readJSON(r, &req); err != nil {
		Fail(w, r, err)
		return
	}
	if req.Records == nil {
		Fail(w, r, &schemaError{[]map[string]any{{"loc": []any{"body", "records"}, "msg": "field required", "type": "value_error.missing"}}})
		return
	}
	if len(req.Records) == 0 || len(req.Records) > runs.MaxBatch {
		Fail(w, r, detail(provgraph.Invalid, 400, "a batch holds 1 to %d records; this one has %d", runs.MaxBatch, len(req.Records)))
		return
	}
	var schemaErrs []map[string]any
	for i, raw := range req.Records {
		schemaErrs = append(schemaErrs, SchemaErrors(raw, []any{"body", "records", i})...)
	}
	if len(schemaErrs) > 0 {
		Fail(w, r, &schemaError{schemaErrs})
		return
	}
	results := make([]runs.Result, len(req.Records))
	var raws [][]byte
	var at []int
	for i, raw := range req.Records {
		flat, err := flatRecord(raw, []any{"body", "records", i})
		if err != nil {
			results[i].Err = err
			continue
		}
		raws, at = append(raws, flat), append(at, i)
	}
	if len(raws) > 0 {
		stored, err := a.ModelRuns.RegisterBatch(r.Context(), raws, compat.Caller(r).Actor(), r.Header.Get("Idempotency-Key"), runs.EachOnItsOwn)
		if err != nil {
			Fail(w, r, err)
			return
		}
		for j, res := range stored {
			results[at[j]] = res
		}
	}
	batchID := sessionID()
	var jobs []runs.ProvenaJob
	for i, res := range results {
		var sent any = json.RawMessage(req.Records[i])
		var j runs.ProvenaJob
		var err error
		if res.Err != nil {
			var e *provgraph.Error
			if !errors.As(res.Err, &e) || e.Code != provgraph.Invalid {
				Fail(w, r, res.Err)
				return
			}
			msg := e.Message
			if len(e.Fields) > 0 {
				msg = "Failed to validate the record, error: " + fieldText(e.Fields)
			}
			j, err = a.job(r, subLodge, batchID, map[string]any{"record": sent, "revalidate": false, "user_info": ""}, statusFailed, msg, nil)
		} else {
			info, ierr := recordInfo(res.Record)
			if ierr != nil {
				Fail(w, r, ierr)
				return
			}
			j, err = a.job(r, subLodge, batchID, map[string]any{"record": info["record"], "revalidate": false, "user_info": ""}, statusSucceeded, "", map[string]any{"record": info})
		}
		if err != nil {
			Fail(w, r, err)
			return
		}
		jobs = append(jobs, j)
	}
	parent, err := a.job(r, subBatch, "", map[string]any{"records": req.Records, "user_info": ""}, statusSucceeded, "", map[string]any{"batch_id": batchID})
	if err == nil {
		err = a.Jobs.AddProvenaJobs(r.Context(), append([]runs.ProvenaJob{parent}, jobs...))
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"status": statusOK(fmt.Sprintf("batch %s: %d records", batchID, len(jobs))), "session_id": parent.SessionID})
}

func (a *api) update(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     string          `json:"model_run_id"`
		Reason string          `json:"reason"`
		Record json.RawMessage `json:"record"`
	}
	if _, err := readJSON(r, &req); err != nil {
		Fail(w, r, err)
		return
	}
	var missing []map[string]any
	for _, f := range []struct {
		name  string
		empty bool
	}{{"model_run_id", req.ID == ""}, {"reason", req.Reason == ""}, {"record", req.Record == nil}} {
		if f.empty {
			missing = append(missing, map[string]any{"loc": []any{"body", f.name}, "msg": "field required", "type": "value_error.missing"})
		}
	}
	if len(missing) > 0 {
		Fail(w, r, &schemaError{missing})
		return
	}
	flat, err := flatRecord(req.Record, []any{"body", "record"})
	if err != nil {
		Fail(w, r, err)
		return
	}
	if !registry.ValidID(req.ID) {
		Fail(w, r, detail(provgraph.Invalid, 400, "Failed to validate the model run id %q: no such model run", req.ID))
		return
	}
	rec, err := a.ModelRuns.Update(r.Context(), req.ID, flat, compat.Caller(r).Actor(), req.Reason)
	if err != nil {
		if provgraph.ErrorCode(err) == provgraph.NotFound {
			err = detail(provgraph.Invalid, 400, "Failed to validate the model run id %q: no such model run", req.ID)
		}
		Fail(w, r, err)
		return
	}
	info, err := recordInfo(rec)
	if err != nil {
		Fail(w, r, err)
		return
	}
	j, err := a.job(r, subUpdate, "", map[string]any{"model_run_record_id": rec.ID, "updated_record": info["record"], "reason": req.Reason,
		"revalidate": false, "user_info": ""}, statusSucceeded, "", map[string]any{"record": info})
	if err == nil {
		err = a.Jobs.AddProvenaJobs(r.Context(), []runs.ProvenaJob{j})
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"session_id": j.SessionID})
}

// deleteRun invalidates a model run (its version history and PROV stay, where
// wasInvalidatedBy says what happened) and answers what left the graph: the run and its
// links. In trial mode it only answers that.
func (a *api) deleteRun(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID    string `json:"record_id"`
		Trial bool   `json:"trial_mode"`
	}
	if _, err := readJSON(r, &req); err != nil {
		Fail(w, r, err)
		return
	}
	if req.ID == "" {
		Fail(w, r, &schemaError{[]map[string]any{{"loc": []any{"body", "record_id"}, "msg": "field required", "type": "value_error.missing"}}})
		return
	}
	p := compat.Caller(r)
	rec, err := a.Registry.Get(r.Context(), kind("model-run"), req.ID, 0, p.Viewer())
	if err == nil && rec.DeletedAt != nil {
		err = registry.ErrNotFound("model-run", req.ID)
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	var diff []map[string]any
	for _, dir := range []lineage.Direction{lineage.Upstream, lineage.Downstream} {
		res, err := a.Lineage.Walk(r.Context(), lineage.Query{ID: req.ID, Direction: dir, Depth: 1, IncludeAgents: true, Limit: lineage.MaxLimit, Viewer: p.Viewer()})
		if err != nil {
			Fail(w, r, err)
			return
		}
		for _, l := range GraphOf(res).Links {
			diff = append(diff, map[string]any{"action": "remove_link", "type": l.Type, "source": l.Source, "target": l.Target})
		}
	}
	diff = append([]map[string]any{{"action": "remove_node", "id": req.ID, "item_category": "ACTIVITY", "item_subtype": "MODEL_RUN", "trial_mode": req.Trial}}, diff...)
	if !req.Trial {
		if err := a.Registry.Delete(r.Context(), kind("model-run"), req.ID, p.Actor(), "deleted through Provena's /model_run/delete"); err != nil {
			Fail(w, r, err)
			return
		}
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"diff": diff})
}

// explore answers a lineage question as Provena's LineageResponse.
func (a *api) explore(dir lineage.Direction, kinds []string, agents bool, defDepth int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := oneParam(r, "starting_id")
		if err != nil {
			Fail(w, r, err)
			return
		}
		raw := r.URL.Query().Get("depth")
		if _, err := strconv.Atoi(raw); raw != "" && err != nil {
			Fail(w, r, &schemaError{[]map[string]any{{"loc": []any{"query", "depth"}, "msg": "value is not a valid integer", "type": "type_error.integer"}}})
			return
		}
		depth, err := Depth(raw, defDepth)
		if err != nil {
			Fail(w, r, detail(provgraph.Invalid, 400, "%s", err.Error()))
			return
		}
		if !registry.ValidID(id) {
			Fail(w, r, detail(provgraph.NotFound, 404, "no record with id %q", id))
			return
		}
		res, err := a.Lineage.Walk(r.Context(), lineage.Query{ID: id, Direction: dir, Depth: depth, Kinds: slices.Clone(kinds),
			IncludeAgents: agents, Limit: lineage.MaxLimit, Viewer: compat.Caller(r).Viewer()})
		if err != nil {
			Fail(w, r, err)
			return
		}
		g := GraphOf(res)
		writeJSON(w, r, http.StatusOK, map[string]any{"status": statusOK(fmt.Sprintf("%d records %s of %s", len(g.Nodes), dir, id)),
			"record_count": len(g.Nodes), "graph": g})
	}
}
