package server

import (
	"provgraph/runs"
)

// Ids the examples refer to, shaped as the server mints them.
const (
	exampleOrg       = "local/01JD3S6Z8Y6QF1Y7W0K9ZQ8V4A"
	exampleModeller  = "local/01JD3S6Z8Y6QF1Y7W0K9ZQ8V4B"
	exampleModel     = "local/01JD3S6Z8Y6QF1Y7W0K9ZQ8V4C"
	exampleTemplate  = "local/01JD3S6Z8Y6QF1Y7W0K9ZQ8V4D"
	exampleWorkflow  = "local/01JD3S6Z8Y6QF1Y7W0K9ZQ8V4E"
	exampleStudy     = "local/01JD3S6Z8Y6QF1Y7W0K9ZQ8V4F"
	exampleDataset   = "local/01JD3S6Z8Y6QF1Y7W0K9ZQ8V4G"
	exampleProjected = "local/01JD3S6Z8Y6QF1Y7W0K9ZQ8V4H"
)

// requestExamples are request bodies the document shows, by JSON Schema name: the reef
// projection of `make demo`. A test validates each against its schema.
var requestExamples = map[string]any{
	"organisation": map[string]any{"display_name": "CSIRO", "name": "Commonwealth Scientific and Industrial Research Organisation",
		"ror": "https://ror.org/03qn8fb07"},
	"person": map[string]any{"display_name": "Dr Mira Okafor", "first_name": "Mira", "last_name": "Okafor",
		"email": "mira.okafor@example.org", "orcid": "https://orcid.org/0000-0002-1825-0097", "ethics_approved": true},
	"study": map[string]any{"title": "Reef futures 2025–2027",
		"description": "Year-on-year projections of coral cover on the central Great Barrier Reef under SSP2-4.5."},
	"model": map[string]any{"display_name": "ReefSim 3.2", "name": "reefsim",
		"description":       "A coral community model: growth, bleaching and recovery on a reef grid.",
		"documentation_url": "https://example.org/reefsim/docs", "source_url": "https://example.org/reefsim/src"},
	"dataset-template": map[string]any{"display_name": "Projected reef state",
		"description":        "Coral cover per reef cell at the end of a year.",
		"deferred_resources": []any{map[string]any{"key": "cover", "usage_type": "GENERAL_DATA"}}},
	"workflow-template": map[string]any{"display_name": "ReefSim one-year projection",
		"description": "One simulated year: an initial state in, the projected state out.",
		"software_id": exampleModel, "software_version": "3.2.0",
		"input_templates":  []any{map[string]any{"template_id": exampleTemplate}},
		"output_templates": []any{map[string]any{"template_id": exampleTemplate}}},
	"dataset": map[string]any{"display_name": "Central GBR reef survey 2024", "name": "reef-survey-2024",
		"description": "Coral cover per reef cell from the 2024 long-term monitoring survey.",
		"location":    "s3://reef-data/surveys/2024/", "license": "https://creativecommons.org/licenses/by/4.0/",
		"publisher_id": exampleOrg, "created_date": "2025-01-15", "published_date": "2025-01-15",
		"keywords": []string{"coral", "great barrier reef", "survey"}},
	"model-run": map[string]any{"workflow_template_id": exampleWorkflow, "model_version": "3.2.0", "study_id": exampleStudy,
		"display_name": "ReefSim projection 2025", "description": "One-year projection for 2025, starting from the 2024 survey.",
		"inputs":       []any{map[string]any{"dataset_template_id": exampleTemplate, "dataset_id": exampleDataset, "resources": map[string]string{"cover": "cover.parquet"}}},
		"outputs":      []any{map[string]any{"dataset_template_id": exampleTemplate, "dataset_id": exampleProjected, "resources": map[string]string{"cover": "cover.parquet"}}},
		"associations": map[string]string{"modeller_id": exampleModeller, "requesting_organisation_id": exampleOrg},
		"start_time":   "2025-02-03T09:00:00Z", "end_time": "2025-02-03T14:20:00Z"},
	"run": map[string]any{"name": "reefsim-2025", "description": "One-year projection, tracked while it runs.",
		"ref":    map[string]any{"workflow_template_id": exampleWorkflow},
		"inputs": []any{map[string]any{"id": exampleDataset, "role": exampleTemplate}},
		"tags":   map[string]string{"scenario": "ssp245"}, "study_id": exampleStudy},
}

// opExample is the body of a lifecycle operation: outputs on complete, a reason where
// one is kept.
func opExample(op runs.Op) any {
	switch op {
	case runs.OpComplete:
		return map[string]any{"outputs": []any{map[string]any{"id": exampleProjected, "role": exampleTemplate}}}
	case runs.OpFail, runs.OpError, runs.OpCancel, runs.OpRetry:
		return map[string]any{"reason": "the forcing data was incomplete"}
	}
	return map[string]any{}
}
