package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"provgraph/scripts/internal/apiclient"
)

// The flowserv section measures what flowserv's remote run service adds to the native
// routes: a cycle is start_run → get_run → cancel_run of one run as flowserv-core's remote
// client sends them (POST /flowserv/api/v1/groups/{group}/runs with the arguments, GET
// …/runs/{id}, PUT …/runs/{id} with a reason; the token in api_key, ids raw), against
// create → get → cancel of the same run on /api/v1/runs (the same study, template,
// parameters and tag; get in view basic; :cancel with the reason). Interleaved pairs, as
// the kfp and tes sections.

var flowservVersus = versus{section: "flowserv", native: "native create→get→cancel, pair %d", wire: "flowserv start→get→cancel, pair %d",
	target: 0.80, row: "flowserv start→get→cancel / native create→get→cancel"}

func (b *bench) flowservSection(ctx context.Context) ([]result, error) {
	path := "/flowserv/api/v1/workflows/" + b.f.Workflow + "/groups"
	r, err := b.api.Do(ctx, "POST", path, map[string]any{"name": "bench " + b.prefix})
	if err != nil {
		return nil, err
	}
	if r.Status == http.StatusNotFound && !strings.Contains(string(r.Body), `"message"`) {
		return b.skipped(flowservVersus, "flowserv"), nil
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
	return b.pairs(ctx, flowservVersus, native, wire), nil
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
