package provena

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"provgraph"
	"provgraph/compat"
	"provgraph/registry"
	"provgraph/runs"
)

// Provena's bulk CSV: one column per field of a model run of one workflow template, in
// Provena's header wording, and four status columns a regenerated batch fills in.
const (
	colTemplate    = "_workflow template id "
	colName        = "display name"
	colDescription = "description"
	colVersion     = "model version (optional)"
	colAgent       = "agent id"
	colStudy       = "study id"
	colStart       = "execution start time (YYYY-MM-DD HH:MM:SS+HH:MM)"
	colEnd         = "execution end time (YYYY-MM-DD HH:MM:SS+HH:MM)"
	colJobID       = "_job_id"
	colJobStatus   = "_job_status"
	colRecordID    = "_model_run_record_id"
	colErrorInfo   = "_error_info"
	csvTimeLayout  = "2006-01-02 15:04:05-07:00"
	maxCSVRows     = runs.MaxBatch
)

// CSVTemplate is what a workflow template's CSV is made from: its slots, in order, with
// their dataset templates' display names and deferred resource keys, and its annotations.
type CSVTemplate struct {
	ID          string
	Inputs      []CSVSlot
	Outputs     []CSVSlot
	Annotations []string // required, then optional
}

// CSVSlot is one dataset template of a workflow template.
type CSVSlot struct {
	TemplateID string
	Name       string
	Optional   bool
	Resources  []string // deferred resource keys
}

// column is one column of the CSV and what it holds.
type column struct {
	header string
	side   string // "inputs" or "outputs" for dataset and resource columns
	slot   int
	key    string // resource or annotation key
	what   string // "dataset", "resource", "annotation" or the header itself
}

func (t CSVTemplate) columns() []column {
	cols := []column{{header: colTemplate + t.ID, what: "template"}}
	for _, h := range []string{colName, colDescription, colVersion, colAgent, colStudy, colStart, colEnd} {
		cols = append(cols, column{header: h, what: h})
	}
	for _, side := range []struct {
		name, word string
		slots      []CSVSlot
	}{{"inputs", "Input", t.Inputs}, {"outputs", "Output", t.Outputs}} {
		for i, s := range side.slots {
			cols = append(cols, column{header: fmt.Sprintf("%s dataset id for template: %s [template id: %s]", side.word, s.Name, s.TemplateID), side: side.name, slot: i, what: "dataset"})
			for _, k := range s.Resources {
				cols = append(cols, column{header: side.word + " resource: " + k, side: side.name, slot: i, key: k, what: "resource"})
			}
		}
	}
	for _, k := range t.Annotations {
		cols = append(cols, column{header: "annotation: " + k, key: k, what: "annotation"})
	}
	for _, h := range []string{colJobID, colJobStatus, colRecordID, colErrorInfo} {
		cols = append(cols, column{header: h, what: h})
	}
	return cols
}

// Header is the CSV's header row.
func (t CSVTemplate) Header() []string {
	var out []string
	for _, c := range t.columns() {
		out = append(out, c.header)
	}
	return out
}

// Row writes a ModelRunRecord (and its job, if any) as a row under t's header.
func (t CSVTemplate) Row(rec json.RawMessage, job *runs.ProvenaJob) ([]string, error) {
	var run struct {
		ModelVersion string            `json:"model_version"`
		DisplayName  string            `json:"display_name"`
		Description  string            `json:"description"`
		StudyID      string            `json:"study_id"`
		Annotations  map[string]string `json:"annotations"`
		Associations struct {
			ModellerID string `json:"modeller_id"`
		} `json:"associations"`
		StartTime json.Number `json:"start_time"`
		EndTime   json.Number `json:"end_time"`
		Inputs    []csvDataset
		Outputs   []csvDataset
	}
	d := json.NewDecoder(bytes.NewReader(rec))
	d.UseNumber()
	if err := d.Decode(&run); err != nil {
		return nil, fmt.Errorf("provena: a job's record cannot be read: %w", err)
	}
	when := func(n json.Number) string {
		v, err := n.Int64()
		if err != nil {
			return n.String()
		}
		return time.Unix(v, 0).UTC().Format(csvTimeLayout)
	}
	find := func(side string, slot int) *csvDataset {
		list, slots := run.Inputs, t.Inputs
		if side == "outputs" {
			list, slots = run.Outputs, t.Outputs
		}
		for i := range list {
			if list[i].TemplateID == slots[slot].TemplateID {
				return &list[i]
			}
		}
		return nil
	}
	var row []string
	for _, c := range t.columns() {
		v := ""
		switch c.what {
		case colName:
			v = run.DisplayName
		case colDescription:
			v = run.Description
		case colVersion:
			v = run.ModelVersion
		case colAgent:
			v = run.Associations.ModellerID
		case colStudy:
			v = run.StudyID
		case colStart:
			v = when(run.StartTime)
		case colEnd:
			v = when(run.EndTime)
		case "dataset":
			if ds := find(c.side, c.slot); ds != nil {
				v = ds.DatasetID
			}
		case "resource":
			if ds := find(c.side, c.slot); ds != nil {
				v = ds.Resources[c.key]
			}
		case "annotation":
			v = run.Annotations[c.key]
		case colJobID:
			if job != nil {
				v = job.SessionID
			}
		case colJobStatus:
			if job != nil {
				v = job.Status
			}
		case colRecordID:
			if job != nil && len(job.Result) > 0 {
				var res struct {
					Record struct {
						ID string `json:"id"`
					} `json:"record"`
				}
				json.Unmarshal(job.Result, &res)
				v = res.Record.ID
			}
		case colErrorInfo:
			if job != nil {
				v = job.Info
			}
		}
		row = append(row, v)
	}
	return row, nil
}

type csvDataset struct {
	TemplateID string            `json:"dataset_template_id"`
	DatasetID  string            `json:"dataset_id"`
	Resources  map[string]string `json:"resources"`
}

// Converted is what a CSV of model runs reads as.
type Converted struct {
	New      []map[string]any
	Existing []string // job ids of rows a batch already registered
	Warnings []string
}

// ParseCSV reads a CSV of model runs of one workflow template (named in its first header
// cell) into ModelRunRecords; rows whose _job_id is a known job (known says) are only
// named. A bad header, row or time is an Invalid error naming it.
func ParseCSV(text []byte, template func(id string) (CSVTemplate, error), known func(jobID string) bool) (Converted, error) {
	var out Converted
	r := csv.NewReader(bytes.NewReader(text))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return out, provgraph.Errorf(provgraph.Invalid, "the CSV has no header row: %v", err)
	}
	if len(header) == 0 || !strings.HasPrefix(strings.TrimPrefix(header[0], "\ufeff"), colTemplate) {
		return out, provgraph.Errorf(provgraph.Invalid, "the CSV's first header must be %q followed by the workflow template id", colTemplate+"<id>")
	}
	t, err := template(strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(header[0], "\ufeff"), colTemplate)))
	if err != nil {
		return out, err
	}
	at := map[string]int{}
	for i, h := range header {
		at[strings.TrimSpace(h)] = i
	}
	cols := t.columns()
	for _, c := range cols[1:] {
		if _, ok := at[c.header]; !ok {
			return out, provgraph.Errorf(provgraph.Invalid, "the CSV has no column %q (generate the template again for workflow template %s)", c.header, t.ID)
		}
	}
	expected := map[string]bool{}
	for _, c := range cols {
		expected[c.header] = true
	}
	for i, h := range header[1:] {
		if !expected[strings.TrimSpace(h)] {
			out.Warnings = append(out.Warnings, fmt.Sprintf("Extra column with header '%s' provided, ignoring", header[i+1]))
		}
	}
	for line := 2; ; line++ {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, provgraph.Errorf(provgraph.Invalid, "line %d of the CSV cannot be read: %v", line, err)
		}
		if line-1 > maxCSVRows {
			return out, provgraph.Errorf(provgraph.Invalid, "the CSV holds more than %d rows", maxCSVRows)
		}
		cell := func(h string) string {
			if i, ok := at[h]; ok && i < len(row) {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		if slices.IndexFunc(row, func(s string) bool { return strings.TrimSpace(s) != "" }) < 0 {
			continue // a blank line
		}
		if id := cell(colJobID); id != "" && known(id) {
			out.Existing = append(out.Existing, id)
			continue
		}
		rec, err := t.record(cell, line)
		if err != nil {
			return out, err
		}
		out.New = append(out.New, rec)
	}
	return out, nil
}

// record builds one row's ModelRunRecord.
func (t CSVTemplate) record(cell func(string) string, line int) (map[string]any, error) {
	bad := func(format string, args ...any) error {
		return provgraph.Errorf(provgraph.Invalid, "line %d: %s", line, fmt.Sprintf(format, args...))
	}
	rec := map[string]any{"workflow_template_id": t.ID}
	for h, key := range map[string]string{colName: "display_name", colDescription: "description", colAgent: "modeller_id"} {
		if cell(h) == "" {
			return nil, bad("%q is required", h)
		}
		rec[key] = cell(h)
	}
	rec["associations"] = map[string]any{"modeller_id": rec["modeller_id"]}
	delete(rec, "modeller_id")
	if v := cell(colVersion); v != "" {
		rec["model_version"] = v
	}
	if v := cell(colStudy); v != "" {
		rec["study_id"] = v
	}
	for h, key := range map[string]string{colStart: "start_time", colEnd: "end_time"} {
		v, err := parseCSVTime(cell(h))
		if err != nil {
			return nil, bad("%q: %v", h, err)
		}
		rec[key] = v
	}
	for _, side := range []struct {
		name  string
		slots []CSVSlot
	}{{"inputs", t.Inputs}, {"outputs", t.Outputs}} {
		list := []any{}
		for i, s := range side.slots {
			word := "Input"
			if side.name == "outputs" {
				word = "Output"
			}
			h := fmt.Sprintf("%s dataset id for template: %s [template id: %s]", word, s.Name, s.TemplateID)
			id := cell(h)
			if id == "" {
				if !s.Optional {
					return nil, bad("%q is required", h)
				}
				continue
			}
			ds := map[string]any{"dataset_template_id": s.TemplateID, "dataset_id": id, "dataset_type": "DATA_STORE"}
			res := map[string]any{}
			for _, k := range s.Resources {
				if v := cell(word + " resource: " + k); v != "" {
					res[k] = v
				}
			}
			if len(res) > 0 {
				ds["resources"] = res
			}
			list = append(list, ds)
			_ = i
		}
		rec[side.name] = list
	}
	ann := map[string]any{}
	for _, k := range t.Annotations {
		if v := cell("annotation: " + k); v != "" {
			ann[k] = v
		}
	}
	if len(ann) > 0 {
		rec["annotations"] = ann
	}
	return rec, nil
}

// parseCSVTime reads Provena's "YYYY-MM-DD HH:MM:SS+HH:MM", RFC 3339 or epoch seconds.
func parseCSVTime(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("is required")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	for _, layout := range []string{csvTimeLayout, "2006-01-02 15:04:05Z07:00", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, fmt.Errorf("%q is not a time like 2025-01-31 13:45:00+10:00", s)
}

// csvTemplate reads a workflow template and its dataset templates for the CSV.
func (a *api) csvTemplate(ctx context.Context, id string, v registry.Viewer) (CSVTemplate, error) {
	if !registry.ValidID(id) {
		return CSVTemplate{}, detail(provgraph.Invalid, 400, "Failed to validate the workflow template id %q", id)
	}
	wf, err := a.Registry.Get(ctx, kind("workflow-template"), id, 0, v)
	if err != nil {
		if provgraph.ErrorCode(err) == provgraph.NotFound {
			err = detail(provgraph.Invalid, 400, "Failed to validate the workflow template id %q: %s", id, err.Error())
		}
		return CSVTemplate{}, err
	}
	var doc struct {
		Inputs      []runs.TemplateRef `json:"input_templates"`
		Outputs     []runs.TemplateRef `json:"output_templates"`
		Annotations struct {
			Required []string `json:"required"`
			Optional []string `json:"optional"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(wf.Record, &doc); err != nil {
		return CSVTemplate{}, err
	}
	t := CSVTemplate{ID: id, Annotations: slices.Concat(doc.Annotations.Required, doc.Annotations.Optional)}
	slot := func(ref runs.TemplateRef) (CSVSlot, error) {
		rec, err := a.Registry.Get(ctx, kind("dataset-template"), ref.TemplateID, 0, v)
		if err != nil {
			return CSVSlot{}, err
		}
		var dt struct {
			DisplayName string `json:"display_name"`
			Deferred    []struct {
				Key string `json:"key"`
			} `json:"deferred_resources"`
		}
		json.Unmarshal(rec.Record, &dt)
		s := CSVSlot{TemplateID: ref.TemplateID, Name: dt.DisplayName, Optional: ref.Optional}
		for _, d := range dt.Deferred {
			s.Resources = append(s.Resources, d.Key)
		}
		return s, nil
	}
	for _, ref := range doc.Inputs {
		s, err := slot(ref)
		if err != nil {
			return CSVTemplate{}, err
		}
		t.Inputs = append(t.Inputs, s)
	}
	for _, ref := range doc.Outputs {
		s, err := slot(ref)
		if err != nil {
			return CSVTemplate{}, err
		}
		t.Outputs = append(t.Outputs, s)
	}
	return t, nil
}

func writeCSV(w http.ResponseWriter, rows [][]string) {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.WriteAll(rows)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
}

func (a *api) generateTemplate(w http.ResponseWriter, r *http.Request) {
	id, err := oneParam(r, "workflow_template_id")
	if err != nil {
		Fail(w, r, err)
		return
	}
	t, err := a.csvTemplate(r.Context(), id, compat.Caller(r).Viewer())
	if err != nil {
		Fail(w, r, err)
		return
	}
	writeCSV(w, [][]string{t.Header()})
}

// maxCSV bounds an uploaded CSV.
const maxCSV = 8 << 20

func (a *api) convert(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(maxCSV); err != nil {
		Fail(w, r, &schemaError{[]map[string]any{{"loc": []any{"body", "csv_file"}, "msg": "a multipart form with csv_file is required: " + err.Error(), "type": "value_error.missing"}}})
		return
	}
	defer r.MultipartForm.RemoveAll()
	f, _, err := r.FormFile("csv_file")
	if err != nil {
		Fail(w, r, &schemaError{[]map[string]any{{"loc": []any{"body", "csv_file"}, "msg": "field required", "type": "value_error.missing"}}})
		return
	}
	defer f.Close()
	text, err := io.ReadAll(io.LimitReader(f, maxCSV+1))
	if err != nil {
		Fail(w, r, err)
		return
	}
	if len(text) > maxCSV {
		Fail(w, r, provgraph.Errorf(provgraph.TooLarge, "the CSV is over %d bytes", maxCSV))
		return
	}
	p := compat.Caller(r)
	conv, err := ParseCSV(text, func(id string) (CSVTemplate, error) { return a.csvTemplate(r.Context(), id, p.Viewer()) },
		func(job string) bool {
			j, err := a.Jobs.ProvenaJob(r.Context(), job)
			return err == nil && j.Username == p.Subject
		})
	if err != nil {
		Fail(w, r, err)
		return
	}
	resp := map[string]any{"status": statusOK(fmt.Sprintf("%d new and %d existing records", len(conv.New), len(conv.Existing))),
		"new_records": conv.New, "existing_records": conv.Existing, "warnings": conv.Warnings}
	if conv.New == nil {
		resp["new_records"] = []any{}
	}
	if conv.Existing == nil {
		resp["existing_records"] = []string{}
	}
	if conv.Warnings == nil {
		resp["warnings"] = []string{}
	}
	writeJSON(w, r, http.StatusOK, resp)
}

// regenerate writes a batch the caller submitted back as CSV, one row per record, with
// each record's job status.
func (a *api) regenerate(w http.ResponseWriter, r *http.Request) {
	batch, err := oneParam(r, "batch_id")
	if err != nil {
		Fail(w, r, err)
		return
	}
	p := compat.Caller(r)
	jobs, err := a.Jobs.ListProvenaJobs(r.Context(), p.Subject, batch, nil, runs.MaxBatch+1)
	if err != nil {
		Fail(w, r, err)
		return
	}
	var lodges []runs.ProvenaJob
	for _, j := range jobs {
		if j.JobSubType == subLodge {
			lodges = append(lodges, j)
		}
	}
	if len(lodges) == 0 {
		Fail(w, r, detail(provgraph.Invalid, 400, "no jobs of yours in batch %q", batch))
		return
	}
	slices.Reverse(lodges) // in the order they were submitted
	var wfID string
	records := make([]json.RawMessage, len(lodges))
	for i, j := range lodges {
		var payload struct {
			Record json.RawMessage `json:"record"`
		}
		var rec struct {
			WorkflowTemplateID string `json:"workflow_template_id"`
		}
		if json.Unmarshal(j.Payload, &payload) != nil || json.Unmarshal(payload.Record, &rec) != nil {
			Fail(w, r, fmt.Errorf("provena: job %s has no readable record", j.SessionID))
			return
		}
		if wfID != "" && rec.WorkflowTemplateID != wfID {
			Fail(w, r, detail(provgraph.Invalid, 400, "batch %q mixes workflow templates (%s and %s); a CSV holds one", batch, wfID, rec.WorkflowTemplateID))
			return
		}
		wfID, records[i] = rec.WorkflowTemplateID, payload.Record
	}
	t, err := a.csvTemplate(r.Context(), wfID, p.Viewer())
	if err != nil {
		Fail(w, r, err)
		return
	}
	rows := [][]string{t.Header()}
	for i, j := range lodges {
		row, err := t.Row(records[i], &j)
		if err != nil {
			Fail(w, r, err)
			return
		}
		rows = append(rows, row)
	}
	writeCSV(w, rows)
}
