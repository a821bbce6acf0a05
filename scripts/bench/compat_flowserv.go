package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"provgraph/scripts/internal/apiclient"
)

// The flowserv section measures what flowserv's remote run service adds to the native
// routes: a cycle is start_run → get_run → cancel_run of one run as flowserv-core's remote
// client sends them (POST /flowserv/api/v1/groups/{group}/runs with the arguments, GET
// …/runs/{id}, PUT …/runs/{id} with a reason; the token in api_key, ids raw), against
// create → get → cancel of the same run on /api/v1/runs (the same study, template,
// parameters and tag; get in view basic; :cancel with the reason). Interleaved pairs, as
// the kfp and tes sections.

const (
	flowservPairs       = 3
	flowservPhase       = 3 * time.Second
	targetFlowservShare = 0.80 // flowserv cycles/s over native cycles/s
	flowservSection     = "flowserv"
	flowservNativeLabel = "native create→get→cancel, pair %d"
	flowservWireLabel   = "flowserv start→get→cancel, pair %d"
)

func (b *bench) flowservSection(ctx context.Context) ([]result, error) {
	path := "/flowserv/api/v1/workflows/" + b.f.Workflow + "/groups"
	r, err := b.api.Do(ctx, "POST", path, map[string]any{"name": "bench " + b.prefix})
	if err != nil {
		return nil, err
	}
	if r.Status == http.StatusNotFound && !strings.Contains(string(r.Body), `"message"`) {
		why := "the server has no flowserv API"
		fmt.Fprintf(b.log, "   skipped: %s\n", why)
		return []result{{Section: flowservSection, Label: "flowserv", Skipped: why}}, nil
	}
	var group struct {
		ID string `json:"id"`
	}
	if r.Status != http.StatusCreated || r.JSON(&group) != nil || group.ID == "" {
		return nil, &apiclient.APIError{Method: "POST", Path: path, Status: r.Status, Body: string(r.Body)}
	}
	keyed := &apiclient.Client{Base: b.api.Base, HTTP: b.api.HTTP} // the token goes in api_key
	native, wire := flowservNative(b.api, group.ID, b.f.Workflow), flowservCycle(keyed, b.api.Token, group.ID)
	if _, err := wire(ctx, b.seq.next()); err != nil {
		return nil, fmt.Errorf("one flowserv cycle: %w", err)
	}
	if b.opt.warmup > 0 {
		drive(ctx, phase{Concurrency: b.opt.pairsC, Duration: b.opt.warmup / 2}, &b.seq, native)
		drive(ctx, phase{Concurrency: b.opt.pairsC, Duration: b.opt.warmup / 2}, &b.seq, wire)
	}
	d := min(b.opt.duration, flowservPhase)
	var out []result
	for i := 1; i <= flowservPairs; i++ {
		n := func() result {
			return b.measureOne(ctx, flowservSection, fmt.Sprintf(flowservNativeLabel, i), 1, b.opt.pairsC, d, native)
		}
		w := func() result {
			return b.measureOne(ctx, flowservSection, fmt.Sprintf(flowservWireLabel, i), 1, b.opt.pairsC, d, wire)
		}
		if i%2 == 1 {
			out = append(out, n(), w())
		} else {
			x := w()
			out = append(out, n(), x)
		}
	}
	return out, nil
}

func flowservNative(c *apiclient.Client, group, workflow string) op {
	return func(ctx context.Context, i int) (int, error) {
		spec := map[string]any{"name": "bench group run", "kind": "workflow", "study_id": group,
			"ref": map[string]string{"workflow_template_id": workflow}, "tags": map[string]string{"flowserv.group": group},
			"parameters": map[string]any{"scenario": "ssp245", "notes": fmt.Sprint(i)}}
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
		if r, err := c.Do(ctx, "GET", path+"?view=basic", nil); expect(r, err, "GET", path, http.StatusOK) != nil {
			return 0, expect(r, err, "GET", path, http.StatusOK)
		}
		r, err = c.Do(ctx, "POST", path+":cancel", map[string]string{"reason": "bench"})
		return 1, expect(r, err, "POST", path+":cancel", http.StatusOK)
	}
}

func flowservCycle(c *apiclient.Client, token, group string) op {
	return func(ctx context.Context, i int) (int, error) {
		args := map[string]any{"arguments": []any{map[string]any{"name": "scenario", "value": "ssp245"}, map[string]any{"name": "notes", "value": fmt.Sprint(i)}}}
		path := "/flowserv/api/v1/groups/" + group + "/runs"
		r, err := c.Do(ctx, "POST", path, args, "api_key", token)
		if err := expect(r, err, "POST", path, http.StatusCreated); err != nil {
			return 0, err
		}
		var run struct {
			ID string `json:"id"`
		}
		if err := r.JSON(&run); err != nil {
			return 0, err
		}
		path = "/flowserv/api/v1/runs/" + run.ID
		if r, err := c.Do(ctx, "GET", path, nil, "api_key", token); expect(r, err, "GET", path, http.StatusOK) != nil {
			return 0, expect(r, err, "GET", path, http.StatusOK)
		}
		r, err = c.Do(ctx, "PUT", path, map[string]string{"reason": "bench"}, "api_key", token)
		if err := expect(r, err, "PUT", path, http.StatusOK); err != nil {
			return 0, err
		}
		if !strings.Contains(string(r.Body), `"CANCELED"`) {
			return 0, fmt.Errorf("cancel: not canceled: %s", r.Body)
		}
		return 1, nil
	}
}

// flowservTarget is the section's line of the targets table.
func (rep report) flowservTarget(p func(string, ...any)) {
	var shares []float64
	var each []string
	for i := 1; ; i++ {
		n, ok1 := rep.find(flowservSection, rep.Options.pairsC, 1, fmt.Sprintf(flowservNativeLabel, i))
		w, ok2 := rep.find(flowservSection, rep.Options.pairsC, 1, fmt.Sprintf(flowservWireLabel, i))
		if !ok1 || !ok2 || n.Rate() == 0 {
			break
		}
		shares = append(shares, w.Rate()/n.Rate())
		each = append(each, fmt.Sprintf("%.0f%% (%.1f / %.1f)", w.Rate()/n.Rate()*100, w.Rate(), n.Rate()))
	}
	if len(shares) == 0 {
		return
	}
	med := median(shares)
	verdict := "met"
	if med < targetFlowservShare {
		verdict = "**missed**"
	}
	p("| flowserv start→get→cancel / native create→get→cancel, c=%d, median of %d interleaved pairs | ≥ %.0f%% | %.0f%% (pairs: %s cycles/s) | %s |\n",
		rep.Options.pairsC, len(shares), targetFlowservShare*100, med*100, strings.Join(each, ", "), verdict)
}
