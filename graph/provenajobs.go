package graph

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"provgraph"
	"provgraph/runs"
)

// ProvenaJobs keeps the jobs of the Provena adapter as (:ProvenaJob) nodes: bookkeeping,
// not records, so no lineage, export or Cypher recipe ever meets them. A job is written
// once, already ended, and never changes.
type ProvenaJobs struct {
	DB      *DB
	mu      sync.Mutex
	indexed bool
}

// ensureIndexes creates the job indexes, idempotently, until once they are made. They
// only speed look-ups (session ids are random UUIDs), so a failure is tried again on the
// next job rather than failing this one.
func (s *ProvenaJobs) ensureIndexes(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.indexed {
		return
	}
	for _, stmt := range []string{
		"CREATE INDEX provena_job_session IF NOT EXISTS FOR (j:ProvenaJob) ON (j.session_id)",
		"CREATE INDEX provena_job_owner IF NOT EXISTS FOR (j:ProvenaJob) ON (j.username, j.created_at)",
		"CREATE INDEX provena_job_batch IF NOT EXISTS FOR (j:ProvenaJob) ON (j.batch_id)",
	} {
		sess := s.DB.session(ctx, neo4j.AccessModeWrite)
		res, err := sess.Run(ctx, stmt, nil)
		if err == nil {
			_, err = res.Consume(ctx)
		}
		sess.Close(context.WithoutCancel(ctx))
		if err != nil {
			return
		}
	}
	s.indexed = true
}

// AddProvenaJobs stores jobs in one transaction.
func (s *ProvenaJobs) AddProvenaJobs(ctx context.Context, jobs []runs.ProvenaJob) error {
	s.ensureIndexes(ctx)
	rows := make([]map[string]any, 0, len(jobs))
	for _, j := range jobs {
		doc, err := json.Marshal(j)
		if err != nil {
			return err
		}
		rows = append(rows, map[string]any{"session_id": j.SessionID, "username": j.Username, "batch_id": j.BatchID,
			"created_at": j.CreatedAt.UTC(), "doc": string(doc)})
	}
	_, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		_, err := tx.Run(ctx, `UNWIND $rows AS row CREATE (j:ProvenaJob) SET j = row`, map[string]any{"rows": rows})
		return nil, err
	})
	return err
}

// ProvenaJob reads one job.
func (s *ProvenaJobs) ProvenaJob(ctx context.Context, sessionID string) (runs.ProvenaJob, error) {
	v, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, `MATCH (j:ProvenaJob {session_id:$id}) RETURN j.doc AS doc, j.created_at AS at`, map[string]any{"id": sessionID})
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, provgraph.Errorf(provgraph.NotFound, "no job with session id %q", sessionID)
		}
		return toProvenaJob(recs[0])
	})
	if err != nil {
		return runs.ProvenaJob{}, err
	}
	return v.(runs.ProvenaJob), nil
}

// ListProvenaJobs lists one user's jobs, newest first.
func (s *ProvenaJobs) ListProvenaJobs(ctx context.Context, username, batchID string, after *runs.ProvenaJobCursor, limit int) ([]runs.ProvenaJob, error) {
	params := map[string]any{"user": username, "batch": batchID, "limit": int64(limit), "after": nil, "after_id": ""}
	if after != nil {
		params["after"], params["after_id"] = after.CreatedAt.UTC(), after.SessionID
	}
	v, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, `
			MATCH (j:ProvenaJob {username:$user})
			WHERE ($batch = '' OR j.batch_id = $batch)
				AND ($after IS NULL OR j.created_at < $after OR (j.created_at = $after AND j.session_id > $after_id))
			RETURN j.doc AS doc, j.created_at AS at
			ORDER BY j.created_at DESC, j.session_id
			LIMIT $limit`, params)
		if err != nil {
			return nil, err
		}
		out := make([]runs.ProvenaJob, 0, len(recs))
		for _, r := range recs {
			j, err := toProvenaJob(r)
			if err != nil {
				return nil, err
			}
			out = append(out, j)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]runs.ProvenaJob), nil
}

func toProvenaJob(r *neo4j.Record) (runs.ProvenaJob, error) {
	var j runs.ProvenaJob
	doc, _ := r.Get("doc")
	if err := json.Unmarshal([]byte(doc.(string)), &j); err != nil {
		return j, err
	}
	if at, ok := r.Get("at"); ok {
		if t, ok := at.(time.Time); ok {
			j.CreatedAt = t.UTC()
		}
	}
	return j, nil
}
