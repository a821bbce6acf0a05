package runs

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"provgraph"
	"provgraph/registry"
	"provgraph/schemas"
)

// world is a graph context with one workflow: inputs tin (required) and topt (optional),
// output tout; tin declares a required deferred resource "forcing".
func world() Context {
	var w Workflow
	json.Unmarshal([]byte(`{"software_id":"m","input_templates":[{"template_id":"tin"},{"template_id":"topt","optional":true}],
		"output_templates":[{"template_id":"tout"}],"annotations":{"required":["scenario"],"optional":["notes"]}}`), &w)
	var tin DatasetTemplate
	json.Unmarshal([]byte(`{"deferred_resources":[{"key":"forcing"},{"key":"extra","optional":true}]}`), &tin)
	return Context{
		Kinds: map[string]string{"wf": "WorkflowTemplate", "m": "Model", "tin": "DatasetTemplate", "topt": "DatasetTemplate",
			"tout": "DatasetTemplate", "d1": "Dataset", "d2": "Dataset", "p": "Person", "o": "Organisation", "s": "Study"},
		Workflow:  &w,
		Templates: map[string]DatasetTemplate{"tin": tin, "tout": {}, "topt": {}},
	}
}

func mustRun(t *testing.T, doc string) ModelRun {
	t.Helper()
	var m ModelRun
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const good = `{"workflow_template_id":"wf","inputs":[{"dataset_template_id":"tin","dataset_id":"d1","resources":{"forcing":"f.nc"}}],
	"outputs":[{"dataset_template_id":"tout","dataset_id":"d2"}],"annotations":{"scenario":"a"},"display_name":"r","description":"d",
	"associations":{"modeller_id":"p","requesting_organisation_id":"o"},"study_id":"s","start_time":1700000000,"end_time":"2023-11-14T23:00:00Z"}`

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		edit func(m *ModelRun, c *Context)
		want []string
	}{
		{"valid", nil, nil},
		{"output template used as input (Provena lets it through)", func(m *ModelRun, c *Context) {
			m.Inputs = append(m.Inputs, Dataset{DatasetTemplateID: "tout", DatasetID: "d2"})
		}, []string{"/inputs/1/dataset_template_id"}},
		{"unfulfilled required output", func(m *ModelRun, c *Context) { m.Outputs = nil }, []string{"/outputs"}},
		{"dataset is a person", func(m *ModelRun, c *Context) { m.Inputs[0].DatasetID = "p" }, []string{"/inputs/0/dataset_id"}},
		{"missing deferred resource and unknown key", func(m *ModelRun, c *Context) {
			m.Inputs[0].Resources = map[string]string{"nope": "x"}
		}, []string{"/inputs/0/resources/forcing", "/inputs/0/resources/nope"}},
		{"every failure at once", func(m *ModelRun, c *Context) {
			m.Associations.ModellerID = "o"
			m.Associations.RequestingOrganisationID = "p"
			m.StudyID = "zzz"
			m.Annotations = map[string]string{"other": "x"}
		}, []string{"/annotations/other", "/annotations/scenario", "/associations/modeller_id", "/associations/requesting_organisation_id", "/study_id"}},
		{"workflow missing", func(m *ModelRun, c *Context) { delete(c.Kinds, "wf"); c.Workflow = nil }, []string{"/workflow_template_id"}},
		{"workflow's model gone", func(m *ModelRun, c *Context) { delete(c.Kinds, "m") }, []string{"/workflow_template_id"}},
		{"several datasets fulfil one template", func(m *ModelRun, c *Context) {
			m.Outputs = append(m.Outputs, Dataset{DatasetTemplateID: "tout", DatasetID: "d1"})
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, c := mustRun(t, good), world()
			if tt.edit != nil {
				tt.edit(&m, &c)
			}
			var got []string
			for _, e := range m.Check("wf", c) {
				got = append(got, e.Path)
				if e.Message == "" {
					t.Errorf("no message at %s", e.Path)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckShapeAndTimes(t *testing.T) {
	m := mustRun(t, good)
	if !m.StartTime.Equal(time.Unix(1700000000, 0)) || m.EndTime.Format(time.RFC3339) != "2023-11-14T23:00:00Z" {
		t.Fatalf("times %v %v", m.StartTime, m.EndTime)
	}
	if errs := m.CheckShape(); len(errs) != 0 {
		t.Fatal(errs)
	}
	m.EndTime.Time = m.StartTime.Add(-time.Second)
	m.Inputs = append(m.Inputs, m.Inputs[0])
	var got []string
	for _, e := range m.CheckShape() {
		got = append(got, e.Path)
	}
	if strings.Join(got, ",") != "/end_time,/inputs/1/dataset_id" {
		t.Fatalf("got %v", got)
	}
}

func FuzzTime(f *testing.F) {
	f.Add(`1700000000`)
	f.Add(`"2023-11-14T23:00:00.123456789+10:00"`)
	f.Fuzz(func(t *testing.T, s string) {
		var tm Time
		if tm.UnmarshalJSON([]byte(s)) != nil {
			return
		}
		b, err := tm.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back Time
		if err := back.UnmarshalJSON(b); err != nil || !back.Equal(tm.Time) {
			t.Fatalf("round trip %s -> %s: %v", s, b, err)
		}
	})
}

// TestSchemaAndConsistencyReportedAtOnce: a run that fails its schema is still checked for
// its own consistency, and both are reported together; its ids are not looked up.
func TestSchemaAndConsistencyReportedAtOnce(t *testing.T) {
	sch, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := &ModelRuns{Schemas: sch, Now: time.Now} // no store: nothing may reach it
	doc := strings.Replace(strings.Replace(good, `"end_time":"2023-11-14T23:00:00Z"`, `"end_time":1600000000`, 1), `"description":"d"`, `"description":"d","colour":"red"`, 1)
	_, err = s.Register(t.Context(), []byte(doc), registry.Actor{Subject: "t"}, "")
	var e *provgraph.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v", err)
	}
	var got []string
	for _, f := range e.Fields {
		got = append(got, f.Path)
	}
	if strings.Join(got, ",") != "/colour,/end_time" {
		t.Fatalf("fields %v, want /colour and /end_time", got)
	}
}
