package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"provgraph/scripts/internal/apiclient"
	"provgraph/scripts/internal/fixture"
)

// The provena section measures what Provena's prov and job APIs add to the native
// registration: a cycle is register → read back of one model run, through
// POST /model_run/register then GET /jobs/user/fetch?session_id= (what provenaclient's
// register_model_run and await_successful_job_completion send: the job holds the run's
// record and PROV-JSON), or POST /api/v1/model-runs then GET /api/v1/model-runs/{id}.
// Both sides register the fixture's runs at the same concurrency, in interleaved pairs.

var provenaVersus = versus{section: "provena", native: "native register→get, pair %d", wire: "Provena register→fetch job, pair %d",
	row: "Provena register→fetch job / native register→get"} // no target: measured only

func (b *bench) provenaSection(ctx context.Context) ([]result, error) {
	r, err := b.api.Do(ctx, "GET", "/", nil)
	if err != nil {
		return nil, err
	}
	if r.Status != http.StatusOK {
		return b.skipped(provenaVersus, "Provena"), nil
	}
	return b.pairs(ctx, provenaVersus, nativeRegister(b.api, b.f), provenaRegister(b.api, b.f)), nil
}

func nativeRegister(c *apiclient.Client, f fixture.Fixture) op {
	return func(ctx context.Context, i int) (int, error) {
		r, err := c.Do(ctx, "POST", "/api/v1/model-runs", f.ModelRun(i))
		if err := expect(r, err, "POST", "/api/v1/model-runs", http.StatusCreated); err != nil {
			return 0, err
		}
		var rec struct {
			ID string `json:"id"`
		}
		if err := r.JSON(&rec); err != nil {
			return 0, err
		}
		path := "/api/v1/model-runs/" + rec.ID
		r, err = c.Do(ctx, "GET", path, nil)
		return 1, expect(r, err, "GET", path, http.StatusOK)
	}
}

// provenaRecord is the fixture's i-th run as provenaclient sends it: dataset_type on
// every dataset, times as epoch seconds.
func provenaRecord(f fixture.Fixture, i int) map[string]any {
	rec := f.ModelRun(i)
	for _, side := range []string{"inputs", "outputs"} {
		for _, d := range rec[side].([]any) {
			d.(map[string]any)["dataset_type"] = "DATA_STORE"
		}
	}
	for _, k := range []string{"start_time", "end_time"} {
		if t, err := time.Parse(time.RFC3339, rec[k].(string)); err == nil {
			rec[k] = t.Unix()
		}
	}
	return rec
}

func provenaRegister(c *apiclient.Client, f fixture.Fixture) op {
	return func(ctx context.Context, i int) (int, error) {
		r, err := c.Do(ctx, "POST", "/model_run/register", provenaRecord(f, i))
		if err := expect(r, err, "POST", "/model_run/register", http.StatusOK); err != nil {
			return 0, err
		}
		var res struct {
			SessionID string `json:"session_id"`
		}
		if err := r.JSON(&res); err != nil || res.SessionID == "" {
			return 0, fmt.Errorf("register answered no session: %s", r.Body)
		}
		path := "/jobs/user/fetch?session_id=" + url.QueryEscape(res.SessionID)
		r, err = c.Do(ctx, "GET", path, nil)
		return 1, expect(r, err, "GET", path, http.StatusOK)
	}
}
