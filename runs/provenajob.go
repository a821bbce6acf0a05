package runs

import (
	"context"
	"encoding/json"
	"time"
)

// ProvenaJob is one of Provena's asynchronous jobs (its JobStatusTable), kept for the
// Provena adapter: provgraph registers model runs synchronously, and records each
// registration, batch and update as a job that has already ended, so that Provena's
// clients find the session they poll and a batch can be read back later.
type ProvenaJob struct {
	SessionID string `json:"session_id"`
	// CreatedAt orders the jobs; created_timestamp is its epoch seconds.
	CreatedAt  time.Time       `json:"-"`
	Username   string          `json:"username"`
	BatchID    string          `json:"batch_id,omitempty"`
	Payload    json.RawMessage `json:"payload"`
	JobType    string          `json:"job_type"`
	JobSubType string          `json:"job_sub_type"`
	Status     string          `json:"status"`
	Info       string          `json:"info,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
}

// ProvenaJobCursor is the position after which a page of jobs starts: jobs are listed
// newest first, ties broken by session id.
type ProvenaJobCursor struct {
	CreatedAt time.Time
	SessionID string
}

// ProvenaJobs keeps Provena jobs.
type ProvenaJobs interface {
	// AddProvenaJobs stores jobs, all or none.
	AddProvenaJobs(ctx context.Context, jobs []ProvenaJob) error
	// ProvenaJob reads one job; an unknown session is NotFound.
	ProvenaJob(ctx context.Context, sessionID string) (ProvenaJob, error)
	// ListProvenaJobs lists username's jobs (of one batch, if batchID is not empty), newest
	// first, at most limit, after the cursor when it is not nil.
	ListProvenaJobs(ctx context.Context, username, batchID string, after *ProvenaJobCursor, limit int) ([]ProvenaJob, error)
}
