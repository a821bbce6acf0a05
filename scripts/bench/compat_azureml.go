package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"provgraph/scripts/internal/apiclient"
)

// The azureml section measures what the Azure ML execution API adds to the native one: a
// cycle is snapshotrun → get → cancel of one run, as the SDK v1 sends them (a PascalCase
// RunDefinition under the client's own run id, the run-history read of that id, the
// cancelUri), or create → get → cancel of the same run through /api/v1/runs. Both sides
// name the same study (the experiment's) at the same concurrency, in interleaved pairs.
// One record is one cycle.

var azuremlVersus = versus{section: "azureml", native: "native create→get→cancel, pair %d", wire: "Azure ML snapshotrun→get→cancel, pair %d",
	target: 0.80, row: "Azure ML snapshotrun→get→cancel / native create→get→cancel"}

const (
	azuremlWS         = "/subscriptions/bench/resourceGroups/bench/providers/Microsoft.MachineLearningServices/workspaces/bench"
	azuremlDefinition = `{"Configuration": {"Script": "train.py", "Arguments": ["--alpha", "0.5"], "Target": "cpu-cluster", "Framework": "Python"}, "SnapshotId": "bench-snapshot"}`
)

func (b *bench) azuremlSection(ctx context.Context) ([]result, error) {
	experiment := strings.NewReplacer("/", "-", ".", "-").Replace(b.prefix) + "-azureml"
	path := "/history/v1.0" + azuremlWS + "/experiments/" + experiment
	r, err := b.api.Do(ctx, "POST", path, nil)
	if err != nil {
		return nil, err
	}
	if r.Status == http.StatusNotFound {
		return b.skipped(azuremlVersus, "Azure ML"), nil
	}
	var exp struct {
		ID string `json:"experimentId"`
	}
	if r.Status != http.StatusOK || r.JSON(&exp) != nil || exp.ID == "" {
		return nil, &apiclient.APIError{Method: "POST", Path: path, Status: r.Status, Body: string(r.Body)}
	}
	return b.pairs(ctx, azuremlVersus, nativeCycle(b.api, exp.ID), azuremlCycle(b.api, experiment, time.Now().Unix())), nil
}

// azuremlCycle submits, reads and cancels a run under the client's id
// {experiment}_{unix seconds}_{8 hex}: i makes it unique within the bench.
func azuremlCycle(c *apiclient.Client, experiment string, unix int64) op {
	return func(ctx context.Context, i int) (int, error) {
		runID := fmt.Sprintf("%s_%d_%08x", experiment, unix, i)
		submit := "/execution/v1.0" + azuremlWS + "/experiments/" + experiment + "/snapshotrun?runId=" + runID
		r, err := c.Do(ctx, "POST", submit, []byte(azuremlDefinition), "Content-Type", "application/json")
		if err := expect(r, err, "POST", submit, http.StatusOK); err != nil {
			return 0, err
		}
		get := "/history/v1.0" + azuremlWS + "/experiments/" + experiment + "/runs/" + runID
		r, err = c.Do(ctx, "GET", get, nil)
		if err := expect(r, err, "GET", get, http.StatusOK); err != nil {
			return 0, err
		}
		var dto struct {
			Status    string `json:"status"`
			CancelURI string `json:"cancelUri"`
		}
		if err := r.JSON(&dto); err != nil || dto.Status != "Queued" || dto.CancelURI == "" {
			return 0, fmt.Errorf("GET %s: %q, status %q, cancelUri %q", get, err, dto.Status, dto.CancelURI)
		}
		cancel := "/execution/v1.0" + azuremlWS + "/experiments/" + experiment + "/runId/" + runID + "/cancel"
		r, err = c.Do(ctx, "POST", cancel, nil)
		return 1, expect(r, err, "POST", cancel, http.StatusOK)
	}
}
