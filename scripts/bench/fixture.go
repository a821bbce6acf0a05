package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"provgraph/scripts/internal/apiclient"
)

// fixture is what every benchmarked model run refers to, registered through the API.
type fixture struct {
	org, person, model, study, workflow string
	inTemplates, outTemplates           [2]string
	datasets                            []string // a multiple of 4: each run takes 4 in a row
}

// seedFixture registers the organisation, modeller, model, four dataset templates, the
// workflow template, the study and n datasets (at concurrency 8, with idempotency keys).
func seedFixture(ctx context.Context, c *apiclient.Client, n int, tag string) (fixture, error) {
	var f fixture
	var err error
	create := func(into *string, key, collection string, doc map[string]any) {
		if err == nil {
			*into, err = c.Create(ctx, collection, doc, tag+"-"+key)
		}
	}
	create(&f.org, "org", "organisations", map[string]any{"display_name": "Bench institute " + tag, "name": "Benchmark Institute", "ror": "https://ror.org/03qn8fb07"})
	create(&f.person, "person", "people", map[string]any{"display_name": "Bench modeller", "first_name": "Ada", "last_name": "Bench", "email": "bench@example.org"})
	create(&f.model, "model", "models", map[string]any{"display_name": "Bench model", "name": "benchmod", "description": "a model to benchmark with",
		"documentation_url": "https://example.org/doc", "source_url": "https://example.org/src"})
	create(&f.study, "study", "studies", map[string]any{"title": "Bench study " + tag, "description": "model runs registered by scripts/bench"})
	tmpl := func(name, key string) map[string]any {
		return map[string]any{"display_name": name, "description": "a dataset template to benchmark with",
			"defined_resources":  []any{map[string]any{"path": "params.json", "usage_type": "PARAMETER_FILE"}},
			"deferred_resources": []any{map[string]any{"key": key, "usage_type": "GENERAL_DATA"}}}
	}
	for i := range 2 {
		create(&f.inTemplates[i], fmt.Sprintf("tmpl-in-%d", i), "dataset-templates", tmpl(fmt.Sprintf("input %d", i), "data"))
		create(&f.outTemplates[i], fmt.Sprintf("tmpl-out-%d", i), "dataset-templates", tmpl(fmt.Sprintf("output %d", i), "data"))
	}
	if err != nil {
		return f, err
	}
	create(&f.workflow, "workflow", "workflow-templates", map[string]any{"display_name": "Bench workflow", "software_id": f.model,
		"input_templates":  []any{map[string]any{"template_id": f.inTemplates[0]}, map[string]any{"template_id": f.inTemplates[1]}},
		"output_templates": []any{map[string]any{"template_id": f.outTemplates[0]}, map[string]any{"template_id": f.outTemplates[1]}},
		"annotations":      map[string]any{"required": []string{"scenario"}, "optional": []string{"notes"}}})
	if err != nil {
		return f, err
	}

	n = max(4, n/4*4)
	f.datasets = make([]string, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				id, err := c.Create(ctx, "datasets", map[string]any{
					"display_name": fmt.Sprintf("Bench dataset %d", i), "name": fmt.Sprintf("bench-%d", i), "description": "a dataset to benchmark with",
					"location": fmt.Sprintf("s3://bench/%s/%d/", tag, i), "license": "https://creativecommons.org/licenses/by/4.0/",
					"publisher_id": f.org, "created_date": "2025-01-01", "published_date": "2025-01-02", "keywords": []string{"bench"},
				}, fmt.Sprintf("%s-dataset-%d", tag, i))
				if err != nil {
					errs <- err
					continue
				}
				f.datasets[i] = id
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return f, fmt.Errorf("seeding datasets: %w", err)
	}
	return f, nil
}

// dataset is the k-th (0..3) dataset of run i: inputs 0 and 1, outputs 2 and 3.
func (f fixture) dataset(i, k int) string { return f.datasets[(4*i+k)%len(f.datasets)] }

var benchStart = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// modelRun is the i-th benchmarked model run: 2 inputs, 2 outputs (four datasets of the
// pool in a row, so neighbours in time touch different datasets), the modeller, the
// organisation and the study.
func (f fixture) modelRun(i int) map[string]any {
	ds := func(k int) string { return f.dataset(i, k) }
	start := benchStart.Add(time.Duration(i) * time.Minute)
	side := func(tmpl [2]string, first int) []any {
		return []any{
			map[string]any{"dataset_template_id": tmpl[0], "dataset_id": ds(first), "resources": map[string]string{"data": fmt.Sprintf("part-%d-a.nc", i)}},
			map[string]any{"dataset_template_id": tmpl[1], "dataset_id": ds(first + 1), "resources": map[string]string{"data": fmt.Sprintf("part-%d-b.nc", i)}},
		}
	}
	return map[string]any{
		"workflow_template_id": f.workflow, "model_version": "1.0.0", "study_id": f.study,
		"display_name": fmt.Sprintf("bench run %d", i), "description": "a model run registered by scripts/bench",
		"inputs": side(f.inTemplates, 0), "outputs": side(f.outTemplates, 2),
		"annotations":  map[string]string{"scenario": "ssp245"},
		"associations": map[string]string{"modeller_id": f.person, "requesting_organisation_id": f.org},
		"start_time":   start.Format(time.RFC3339), "end_time": start.Add(45 * time.Minute).Format(time.RFC3339),
	}
}
