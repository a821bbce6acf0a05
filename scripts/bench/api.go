package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"provgraph/scripts/internal/apiclient"
	"provgraph/scripts/internal/fixture"
)

// postRun registers the i-th model run with POST /api/v1/model-runs.
func postRun(c *apiclient.Client, f fixture.Fixture) op {
	return func(ctx context.Context, i int) (int, error) {
		body, err := json.Marshal(f.ModelRun(i))
		if err != nil {
			return 0, err
		}
		r, err := c.Do(ctx, "POST", "/api/v1/model-runs", body)
		if err != nil {
			return 0, err
		}
		if r.Status != http.StatusCreated {
			return 0, &apiclient.APIError{Method: "POST", Path: "/api/v1/model-runs", Status: r.Status, Body: string(r.Body)}
		}
		return 1, nil
	}
}

const batchPath = "/api/v1/model-runs:batch"

// postBatch registers size model runs per request with POST /api/v1/model-runs:batch
// (atomic, the default). Request i holds runs size*i … size*i+size-1 of its own range.
func postBatch(c *apiclient.Client, f fixture.Fixture, size int) op {
	return func(ctx context.Context, i int) (int, error) {
		recs := make([]any, size)
		for k := range recs {
			recs[k] = f.ModelRun(i*size + k)
		}
		body, err := json.Marshal(map[string]any{"records": recs})
		if err != nil {
			return 0, err
		}
		r, err := c.Do(ctx, "POST", batchPath, body)
		if err != nil {
			return 0, err
		}
		if r.Status != http.StatusCreated {
			return 0, &apiclient.APIError{Method: "POST", Path: batchPath, Status: r.Status, Body: string(r.Body)}
		}
		// Counting is enough: a full decode of 1000 records would bill the client's CPU,
		// which on a small machine is also the server's and Neo4j's.
		if n := bytes.Count(r.Body, []byte(`"status":201`)); n != size {
			return n, fmt.Errorf("batch of %d: %d results with status 201", size, n)
		}
		return size, nil
	}
}

// probeBatch says why the batch route cannot be measured, or "" when it is there: an
// empty batch is refused by a route that exists (422) and unknown to one that does not.
func probeBatch(ctx context.Context, c *apiclient.Client) (string, error) {
	r, err := c.Do(ctx, "POST", batchPath, []byte(`{"records":[]}`))
	if err != nil {
		return "", err
	}
	switch r.Status {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return fmt.Sprintf("POST %s answered %d: the batch route is not in this build yet", batchPath, r.Status), nil
	}
	return "", nil
}
