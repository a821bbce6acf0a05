// Package runs holds the rules of runs: the registration of complete model runs and the
// lifecycle of tracked runs. It knows nothing of Neo4j or HTTP.
package runs

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"provgraph"
)

// ModelRun is a complete model run as registered (Provena's current record shape).
type ModelRun struct {
	WorkflowTemplateID string            `json:"workflow_template_id"`
	ModelVersion       string            `json:"model_version,omitempty"`
	Inputs             []Dataset         `json:"inputs"`
	Outputs            []Dataset         `json:"outputs"`
	Annotations        map[string]string `json:"annotations,omitempty"`
	DisplayName        string            `json:"display_name"`
	Description        string            `json:"description"`
	StudyID            string            `json:"study_id,omitempty"`
	Associations       Associations      `json:"associations"`
	StartTime          Time              `json:"start_time"`
	EndTime            Time              `json:"end_time"`
}

// Dataset is one dataset used or produced, and the template it fulfils.
type Dataset struct {
	DatasetTemplateID string            `json:"dataset_template_id"`
	DatasetID         string            `json:"dataset_id"`
	DatasetType       string            `json:"dataset_type,omitempty"`
	Resources         map[string]string `json:"resources,omitempty"`
}

// Associations names who ran it and for whom.
type Associations struct {
	ModellerID               string `json:"modeller_id"`
	RequestingOrganisationID string `json:"requesting_organisation_id,omitempty"`
}

// Time accepts epoch seconds or RFC 3339, and keeps which.
type Time struct{ time.Time }

// UnmarshalJSON reads either form.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		v, err := time.Parse(time.RFC3339Nano, str)
		if err != nil {
			return err
		}
		t.Time = v.UTC()
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("time must be epoch seconds or RFC 3339")
	}
	t.Time = time.Unix(n, 0).UTC()
	return nil
}

// MarshalJSON writes RFC 3339.
func (t Time) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.Time.UTC().Format(time.RFC3339Nano))
}

// Context is what the graph holds about the records a model run refers to, read in the
// same transaction as the write.
type Context struct {
	// Kinds maps every referenced id that exists and is current to its kind label.
	Kinds map[string]string
	// Workflow is the workflow template, if it exists.
	Workflow *Workflow
	// Templates are the dataset templates named by the workflow or the run, by id.
	Templates map[string]DatasetTemplate
}

// Workflow is the part of a workflow template the rules need.
type Workflow struct {
	SoftwareID      string        `json:"software_id"`
	InputTemplates  []TemplateRef `json:"input_templates"`
	OutputTemplates []TemplateRef `json:"output_templates"`
	Annotations     struct {
		Required []string `json:"required"`
		Optional []string `json:"optional"`
	} `json:"annotations"`
}

// TemplateRef is one dataset template slot of a workflow.
type TemplateRef struct {
	TemplateID string `json:"template_id"`
	Optional   bool   `json:"optional"`
}

// DatasetTemplate is the part of a dataset template the rules need.
type DatasetTemplate struct {
	DeferredResources []struct {
		Key      string `json:"key"`
		Optional bool   `json:"optional"`
	} `json:"deferred_resources"`
}

// Refs lists the ids a model run refers to besides its workflow template, so storage
// can read them all in one query.
func (m ModelRun) Refs() []string {
	ids := []string{m.Associations.ModellerID}
	for _, id := range []string{m.Associations.RequestingOrganisationID, m.StudyID} {
		if id != "" {
			ids = append(ids, id)
		}
	}
	for _, d := range slices.Concat(m.Inputs, m.Outputs) {
		ids = append(ids, d.DatasetID, d.DatasetTemplateID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Linked lists the records the run's node links to besides its workflow template and
// model: its modeller, organisation, study and datasets (not the dataset templates,
// which only its relationships' roles name).
func (m ModelRun) Linked() []string {
	ids := []string{m.Associations.ModellerID}
	for _, id := range []string{m.Associations.RequestingOrganisationID, m.StudyID} {
		if id != "" {
			ids = append(ids, id)
		}
	}
	for _, d := range slices.Concat(m.Inputs, m.Outputs) {
		ids = append(ids, d.DatasetID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// TemplateIDs lists every template id of the workflow and the run.
func (m ModelRun) TemplateIDs(w *Workflow) []string {
	var ids []string
	if w != nil {
		for _, t := range slices.Concat(w.InputTemplates, w.OutputTemplates) {
			ids = append(ids, t.TemplateID)
		}
	}
	for _, d := range slices.Concat(m.Inputs, m.Outputs) {
		ids = append(ids, d.DatasetTemplateID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// CheckShape applies the rules that need no database. The record has passed its schema.
func (m ModelRun) CheckShape() []provgraph.FieldError {
	var errs []provgraph.FieldError
	if m.EndTime.Before(m.StartTime.Time) {
		errs = append(errs, provgraph.FieldError{Path: "/end_time", Message: fmt.Sprintf("ends (%s) before it starts (%s)", m.EndTime.Format(time.RFC3339), m.StartTime.Format(time.RFC3339))})
	}
	seen := map[string]string{}
	for side, list := range map[string][]Dataset{"inputs": m.Inputs, "outputs": m.Outputs} {
		for i, d := range list {
			ptr := fmt.Sprintf("/%s/%d/dataset_id", side, i)
			key := side + "\x00" + d.DatasetID + "\x00" + d.DatasetTemplateID
			if first, dup := seen[key]; dup {
				errs = append(errs, provgraph.FieldError{Path: ptr, Message: "repeats " + first})
			}
			seen[key] = ptr
		}
	}
	slices.SortFunc(errs, func(a, b provgraph.FieldError) int { return strings.Compare(a.Path, b.Path) })
	return errs
}

// Check applies every rule that needs the graph, reporting all failures at once.
func (m ModelRun) Check(workflowID string, c Context) []provgraph.FieldError {
	var errs []provgraph.FieldError
	add := func(path, format string, args ...any) {
		errs = append(errs, provgraph.FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	expect := func(path, id, kind string) bool {
		got, ok := c.Kinds[id]
		switch {
		case !ok:
			add(path, "no record with id %q", id)
		case got != kind:
			add(path, "%s is a %s, not a %s", id, got, kind)
		default:
			return true
		}
		return false
	}
	if expect("/workflow_template_id", workflowID, "WorkflowTemplate") && c.Workflow != nil {
		w := c.Workflow
		if _, ok := c.Kinds[w.SoftwareID]; !ok || c.Kinds[w.SoftwareID] != "Model" {
			add("/workflow_template_id", "the workflow template's model %s does not exist", w.SoftwareID)
		}
		for _, t := range slices.Concat(w.InputTemplates, w.OutputTemplates) {
			if c.Kinds[t.TemplateID] != "DatasetTemplate" {
				add("/workflow_template_id", "the workflow template's dataset template %s does not exist", t.TemplateID)
			}
		}
		m.checkSide(&errs, "inputs", m.Inputs, w.InputTemplates, w.OutputTemplates, c)
		m.checkSide(&errs, "outputs", m.Outputs, w.OutputTemplates, w.InputTemplates, c)
		for _, key := range w.Annotations.Required {
			if _, ok := m.Annotations[key]; !ok {
				add("/annotations/"+escape(key), "annotation %q is required by the workflow template", key)
			}
		}
		declared := slices.Concat(w.Annotations.Required, w.Annotations.Optional)
		for key := range m.Annotations {
			if !slices.Contains(declared, key) {
				add("/annotations/"+escape(key), "annotation %q is not declared by the workflow template", key)
			}
		}
	}
	expect("/associations/modeller_id", m.Associations.ModellerID, "Person")
	if id := m.Associations.RequestingOrganisationID; id != "" {
		expect("/associations/requesting_organisation_id", id, "Organisation")
	}
	if m.StudyID != "" {
		expect("/study_id", m.StudyID, "Study")
	}
	slices.SortStableFunc(errs, func(a, b provgraph.FieldError) int { return strings.Compare(a.Path, b.Path) })
	return errs
}

func (m ModelRun) checkSide(errs *[]provgraph.FieldError, side string, got []Dataset, slots, other []TemplateRef, c Context) {
	add := func(path, format string, args ...any) {
		*errs = append(*errs, provgraph.FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	fulfilled := map[string]bool{}
	for i, d := range got {
		at := fmt.Sprintf("/%s/%d", side, i)
		inSlots := slices.ContainsFunc(slots, func(t TemplateRef) bool { return t.TemplateID == d.DatasetTemplateID })
		switch {
		case inSlots:
			fulfilled[d.DatasetTemplateID] = true
		case slices.ContainsFunc(other, func(t TemplateRef) bool { return t.TemplateID == d.DatasetTemplateID }):
			add(at+"/dataset_template_id", "template %s belongs to the workflow's %s, not its %s", d.DatasetTemplateID, otherSide(side), side)
		default:
			add(at+"/dataset_template_id", "template %s is not one of the workflow's %s templates", d.DatasetTemplateID, strings.TrimSuffix(side, "s"))
		}
		switch kind, ok := c.Kinds[d.DatasetID]; {
		case !ok:
			add(at+"/dataset_id", "no record with id %q", d.DatasetID)
		case kind != "Dataset":
			add(at+"/dataset_id", "%s is a %s, not a Dataset", d.DatasetID, kind)
		}
		tmpl, ok := c.Templates[d.DatasetTemplateID]
		if !ok || !inSlots {
			continue
		}
		declared := map[string]bool{}
		for _, r := range tmpl.DeferredResources {
			declared[r.Key] = true
			if _, given := d.Resources[r.Key]; !given && !r.Optional {
				add(at+"/resources/"+escape(r.Key), "deferred resource %q of template %s is required", r.Key, d.DatasetTemplateID)
			}
		}
		for key := range d.Resources {
			if !declared[key] {
				add(at+"/resources/"+escape(key), "template %s declares no deferred resource %q", d.DatasetTemplateID, key)
			}
		}
	}
	for _, t := range slots {
		if !t.Optional && !fulfilled[t.TemplateID] {
			add("/"+side, "the workflow's %s template %s is not fulfilled", strings.TrimSuffix(side, "s"), t.TemplateID)
		}
	}
}

func otherSide(side string) string {
	if side == "inputs" {
		return "outputs"
	}
	return "inputs"
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}
