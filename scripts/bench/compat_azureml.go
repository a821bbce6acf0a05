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

const (
	azuremlPairs       = 3
	azuremlPhase       = 3 * time.Second
	targetAzureMLShare = 0.80 // Azure ML cycles/s / native cycles/s
	azuremlSectionName = "azureml"
	azuremlNativeLabel = "native create→get→cancel, pair %d"
	azuremlWireLabel   = "Azure ML snapshotrun→get→cancel, pair %d"
	azuremlWS          = "/subscriptions/bench/resourceGroups/bench/providers/Microsoft.MachineLearningServices/workspaces/bench"
	azuremlDefinition  = `{"Configuration": {"Script": "train.py", "Arguments": ["--alpha", "0.5"], "Target": "cpu-cluster", "Framework": "Python"}, "SnapshotId": "bench-snapshot"}`
)

func (b *bench) azuremlSection(ctx context.Context) ([]result, error) {
	experiment := strings.NewReplacer("/", "-", ".", "-").Replace(b.prefix) + "-azureml"
	path := "/history/v1.0" + azuremlWS + "/experiments/" + experiment
	r, err := b.api.Do(ctx, "POST", path, nil)
	if err != nil {
		return nil, err
	}
	if r.Status == http.StatusNotFound {
		why := "the server has no Azure ML API"
		fmt.Fprintf(b.log, "   skipped: %s\n", why)
		return []result{{Section: azuremlSectionName, Label: "Azure ML", Skipped: why}}, nil
	}
	var exp struct {
		ID string `json:"experimentId"`
	}
	if r.Status != http.StatusOK || r.JSON(&exp) != nil || exp.ID == "" {
		return nil, &apiclient.APIError{Method: "POST", Path: path, Status: r.Status, Body: string(r.Body)}
	}
	native, wire := nativeCycle(b.api, exp.ID), azuremlCycle(b.api, experiment, time.Now().Unix())
	if b.opt.warmup > 0 {
		drive(ctx, phase{Concurrency: b.opt.pairsC, Duration: b.opt.warmup / 2}, &b.seq, native)
		drive(ctx, phase{Concurrency: b.opt.pairsC, Duration: b.opt.warmup / 2}, &b.seq, wire)
	}
	var out []result
	for i := 1; i <= azuremlPairs; i++ {
		n := func() result {
			return b.measureOne(ctx, azuremlSectionName, fmt.Sprintf(azuremlNativeLabel, i), 1, b.opt.pairsC, azuremlPhase, native)
		}
		a := func() result {
			return b.measureOne(ctx, azuremlSectionName, fmt.Sprintf(azuremlWireLabel, i), 1, b.opt.pairsC, azuremlPhase, wire)
		}
		if i%2 == 1 {
			out = append(out, n(), a())
		} else {
			ar := a()
			out = append(out, n(), ar)
		}
	}
	return out, nil
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

// azuremlShares are the Azure ML/native rate ratios of the pairs measured.
func (rep report) azuremlShares() []float64 {
	var out []float64
	for i := 1; ; i++ {
		n, ok1 := rep.find(azuremlSectionName, rep.Options.pairsC, 1, fmt.Sprintf(azuremlNativeLabel, i))
		a, ok2 := rep.find(azuremlSectionName, rep.Options.pairsC, 1, fmt.Sprintf(azuremlWireLabel, i))
		if !ok1 || !ok2 || n.Rate() == 0 {
			return out
		}
		out = append(out, a.Rate()/n.Rate())
	}
}

// azuremlTarget is the section's line of the targets table.
func (rep report) azuremlTarget(p func(string, ...any)) {
	shares := rep.azuremlShares()
	if len(shares) == 0 {
		return
	}
	var each []string
	for _, x := range shares {
		each = append(each, fmt.Sprintf("%.0f%%", x*100))
	}
	med := median(shares)
	verdict := "met"
	if med < targetAzureMLShare {
		verdict = "**missed**"
	}
	p("| Azure ML snapshotrun→get→cancel / native create→get→cancel, c=%d, median of %d interleaved pairs | ≥ %.0f%% | %.0f%% (pairs: %s) | %s |\n",
		rep.Options.pairsC, len(shares), targetAzureMLShare*100, med*100, strings.Join(each, ", "), verdict)
}
