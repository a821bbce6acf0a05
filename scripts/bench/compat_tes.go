package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"provgraph/scripts/internal/apiclient"
)

// The tes section measures GA4GH TES against the native routes it translates onto: one
// cycle is create → get → cancel of a task, as a TES client does it (POST
// /ga4gh/tes/v1/tasks, GET …/tasks/{id}?view=BASIC, POST …/tasks/{id}:cancel) and as the
// same three operations on /api/v1/runs (the same run, its executor and tags as native
// fields; get in view basic; :cancel). Phases alternate, native first then TES first, so
// both sides of each ratio share the machine's state; the report gives each pair's ratio
// and their median.

var tesVersus = versus{section: "tes", native: "native create→get→cancel, pair %d", wire: "TES create→get→cancel, pair %d",
	target: 0.80, row: "TES create→get→cancel cycles/s / native"}

func tesTask(tag string, i int) map[string]any {
	return map[string]any{
		"name": fmt.Sprintf("bench tes %d", i), "description": "a benchmark task",
		"executors": []any{map[string]any{"image": "ubuntu:24.04", "command": []string{"echo", "hello"}, "workdir": "/work", "env": map[string]string{"N": fmt.Sprint(i)}}},
		"resources": map[string]any{"cpu_cores": 2, "ram_gb": 4},
		"tags":      map[string]string{"bench": tag},
	}
}

func nativeTask(tag string, i int) map[string]any {
	return map[string]any{
		"name": fmt.Sprintf("bench tes %d", i), "description": "a benchmark task", "kind": "task",
		"executor": map[string]any{"image": "ubuntu:24.04", "command": []string{"echo", "hello"}, "workdir": "/work", "env": map[string]string{"N": fmt.Sprint(i)},
			"resources": map[string]any{"cpu_cores": 2, "ram_gb": 4}},
		"tags": map[string]string{"bench": tag},
	}
}

// cycle is create → get → cancel through one API.
func cycle(c *apiclient.Client, create, item, view string, doc func(int) map[string]any, created int) op {
	return func(ctx context.Context, i int) (int, error) {
		step := func(method, path string, body any, want int) (apiclient.Response, error) {
			r, err := c.Do(ctx, method, path, body)
			if err == nil && r.Status != want {
				err = &apiclient.APIError{Method: method, Path: path, Status: r.Status, Body: string(r.Body)}
			}
			return r, err
		}
		r, err := step("POST", create, doc(i), created)
		if err != nil {
			return 0, err
		}
		var rec struct {
			ID string `json:"id"`
		}
		if err := r.JSON(&rec); err != nil || rec.ID == "" {
			return 0, fmt.Errorf("create: no id in %s", r.Body)
		}
		if r, err = step("GET", item+rec.ID+"?view="+view, nil, http.StatusOK); err != nil {
			return 0, err
		}
		if !strings.Contains(string(r.Body), `"PENDING"`) && !strings.Contains(string(r.Body), `"QUEUED"`) {
			return 0, fmt.Errorf("get: not pending: %s", r.Body)
		}
		if _, err := step("POST", item+rec.ID+":cancel", nil, http.StatusOK); err != nil {
			return 0, err
		}
		return 1, nil
	}
}

func (b *bench) tesSection(ctx context.Context) ([]result, error) {
	native := cycle(b.api, "/api/v1/runs", "/api/v1/runs/", "basic", func(i int) map[string]any { return nativeTask(b.prefix, i) }, http.StatusCreated)
	wire := cycle(b.api, "/ga4gh/tes/v1/tasks", "/ga4gh/tes/v1/tasks/", "BASIC", func(i int) map[string]any { return tesTask(b.prefix, i) }, http.StatusOK)
	if _, err := wire(ctx, b.seq.next()); err != nil {
		return nil, fmt.Errorf("one TES cycle: %w", err)
	}
	return b.pairs(ctx, tesVersus, native, wire), nil
}
