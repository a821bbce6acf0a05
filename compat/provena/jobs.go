package provena

import (
	"net/http"
	"time"

	"provgraph"
	"provgraph/compat"
	"provgraph/runs"
)

// jobTable is Provena's JobStatusTable of a job.
func jobTable(j runs.ProvenaJob) map[string]any {
	t := map[string]any{"session_id": j.SessionID, "created_timestamp": j.CreatedAt.Unix(), "username": j.Username,
		"payload": j.Payload, "job_type": j.JobType, "job_sub_type": j.JobSubType, "gsi_status": "ok", "status": j.Status}
	if j.BatchID != "" {
		t["batch_id"] = j.BatchID
	}
	if j.Info != "" {
		t["info"] = j.Info
	}
	if len(j.Result) > 0 {
		t["result"] = j.Result
	}
	return t
}

// fetchJob answers one of the caller's jobs; an unknown session is Provena's 400 "Item
// was not found." and another user's job 401, as Provena answers.
func (a *api) fetchJob(w http.ResponseWriter, r *http.Request) {
	id, err := oneParam(r, "session_id")
	if err != nil {
		Fail(w, r, err)
		return
	}
	j, err := a.Jobs.ProvenaJob(r.Context(), id)
	if provgraph.ErrorCode(err) == provgraph.NotFound {
		err = detail(provgraph.Invalid, 400, "Item was not found.")
	}
	if err == nil && j.Username != compat.Caller(r).Subject {
		err = detail(provgraph.Unauthorized, 401, "You do not have permission to view this job.")
	}
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"job": jobTable(j)})
}

// maxJobPage bounds one page of jobs.
const maxJobPage = 100

// PageKey is the pagination key of a job list: where the last page ended.
type PageKey struct {
	CreatedAt int64  `json:"created_at_ns"`
	SessionID string `json:"session_id"`
}

// Cursor reads a pagination key the client sent back; nil for the first page.
func (k *PageKey) Cursor() *runs.ProvenaJobCursor {
	if k == nil {
		return nil
	}
	return &runs.ProvenaJobCursor{CreatedAt: time.Unix(0, k.CreatedAt).UTC(), SessionID: k.SessionID}
}

func (a *api) listJobs(batch bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			BatchID string   `json:"batch_id"`
			Key     *PageKey `json:"pagination_key"`
			Limit   *int     `json:"limit"`
		}
		if _, err := readJSON(r, &req); err != nil {
			Fail(w, r, err)
			return
		}
		if batch && req.BatchID == "" {
			Fail(w, r, &schemaError{[]map[string]any{{"loc": []any{"body", "batch_id"}, "msg": "field required", "type": "value_error.missing"}}})
			return
		}
		limit := 10
		if req.Limit != nil {
			limit = *req.Limit
		}
		if limit < 1 || limit > maxJobPage {
			Fail(w, r, detail(provgraph.Invalid, 400, "limit must be 1 to %d", maxJobPage))
			return
		}
		if req.Key != nil && (req.Key.SessionID == "" || len(req.Key.SessionID) > 64) {
			Fail(w, r, detail(provgraph.Invalid, 400, "the pagination key is not one this service gave"))
			return
		}
		// One more than asked says whether another page follows.
		jobs, err := a.Jobs.ListProvenaJobs(r.Context(), compat.Caller(r).Subject, req.BatchID, req.Key.Cursor(), limit+1)
		if err != nil {
			Fail(w, r, err)
			return
		}
		var next any
		if len(jobs) > limit {
			jobs = jobs[:limit]
			last := jobs[limit-1]
			next = PageKey{CreatedAt: last.CreatedAt.UnixNano(), SessionID: last.SessionID}
		}
		tables := make([]map[string]any, len(jobs))
		for i, j := range jobs {
			tables[i] = jobTable(j)
		}
		writeJSON(w, r, http.StatusOK, map[string]any{"jobs": tables, "pagination_key": next})
	}
}
