package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"provgraph/scripts/internal/apiclient"
)

// The kfp section measures what the Kubeflow Pipelines API adds to the native one: a
// cycle is create → get → terminate of one run, through /apis/v1beta1 as the KFP client
// sends it (the ApiRun with a workflow manifest, parameters and the experiment
// reference; the id %2F-escaped), or create → get → cancel of the same run through
// /api/v1/runs. Both sides name the same study and run at the same concurrency, in
// interleaved pairs (native first, then KFP first, …) so that drift moves both alike.
// One record is one cycle.

var kfpVersus = versus{section: "kfp", native: "native create→get→cancel, pair %d", wire: "KFP create→get→terminate, pair %d",
	target: 0.80, row: "KFP create→get→terminate / native create→get→cancel"}

const (
	kfpBenchManifest = `{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"generateName":"bench-"},"spec":{"entrypoint":"main","templates":[{"name":"main","container":{"image":"busybox","command":["true"]}}]}}`
)

func (b *bench) kfpSection(ctx context.Context) ([]result, error) {
	r, err := b.api.Do(ctx, "POST", "/apis/v1beta1/experiments", map[string]any{"name": "bench " + b.prefix})
	if err != nil {
		return nil, err
	}
	if r.Status == http.StatusNotFound {
		return b.skipped(kfpVersus, "KFP"), nil
	}
	var exp struct {
		ID string `json:"id"`
	}
	if r.Status != http.StatusOK || r.JSON(&exp) != nil || exp.ID == "" {
		return nil, &apiclient.APIError{Method: "POST", Path: "/apis/v1beta1/experiments", Status: r.Status, Body: string(r.Body)}
	}
	return b.pairs(ctx, kfpVersus, nativeCycle(b.api, exp.ID), kfpCycle(b.api, exp.ID)), nil
}

func expect(r apiclient.Response, err error, method, path string, want int) error {
	if err != nil {
		return err
	}
	if r.Status != want {
		return &apiclient.APIError{Method: method, Path: path, Status: r.Status, Body: string(r.Body)}
	}
	return nil
}

func nativeCycle(c *apiclient.Client, study string) op {
	return func(ctx context.Context, i int) (int, error) {
		spec := map[string]any{"name": fmt.Sprintf("bench kfp %d", i), "kind": "pipeline", "study_id": study,
			"parameters": map[string]any{"lr": "0.01", "epochs": "3"}}
		r, err := c.Do(ctx, "POST", "/api/v1/runs", spec)
		if err := expect(r, err, "POST", "/api/v1/runs", http.StatusCreated); err != nil {
			return 0, err
		}
		var run struct {
			ID string `json:"id"`
		}
		if err := r.JSON(&run); err != nil {
			return 0, err
		}
		path := "/api/v1/runs/" + run.ID
		if r, err := c.Do(ctx, "GET", path, nil); expect(r, err, "GET", path, http.StatusOK) != nil {
			return 0, expect(r, err, "GET", path, http.StatusOK)
		}
		r, err = c.Do(ctx, "POST", path+":cancel", nil)
		return 1, expect(r, err, "POST", path+":cancel", http.StatusOK)
	}
}

func kfpCycle(c *apiclient.Client, experiment string) op {
	return func(ctx context.Context, i int) (int, error) {
		run := map[string]any{"name": fmt.Sprintf("bench kfp %d", i),
			"pipeline_spec": map[string]any{"workflow_manifest": kfpBenchManifest,
				"parameters": []any{map[string]string{"name": "lr", "value": "0.01"}, map[string]string{"name": "epochs", "value": "3"}}},
			"resource_references": []any{map[string]any{"key": map[string]string{"type": "EXPERIMENT", "id": experiment}, "relationship": "OWNER"}}}
		r, err := c.Do(ctx, "POST", "/apis/v1beta1/runs", run)
		if err := expect(r, err, "POST", "/apis/v1beta1/runs", http.StatusOK); err != nil {
			return 0, err
		}
		var detail struct {
			Run struct {
				ID string `json:"id"`
			} `json:"run"`
		}
		if err := r.JSON(&detail); err != nil {
			return 0, err
		}
		// As the client sends it: the id's '/' escaped.
		path := "/apis/v1beta1/runs/" + url.PathEscape(detail.Run.ID)
		if r, err := c.Do(ctx, "GET", path, nil, "Content-Type", "application/json"); expect(r, err, "GET", path, http.StatusOK) != nil {
			return 0, expect(r, err, "GET", path, http.StatusOK)
		}
		r, err = c.Do(ctx, "POST", path+"/terminate", nil, "Content-Type", "application/json")
		return 1, expect(r, err, "POST", path+"/terminate", http.StatusOK)
	}
}
