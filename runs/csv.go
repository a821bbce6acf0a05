package runs

// Model runs of one workflow template, registered from a spreadsheet: one CSV row is one
// model run. CSVHeader writes the header a workflow template calls for; ParseCSV reads
// rows under such a header into JSON of our flat model-run shape, one document per row,
// for the normal pipeline (schema, CheckShape, Check) to judge.
//
// Columns (names are case-sensitive; a file may order them as it likes):
//
//	display_name, description, start_time, end_time       required
//	model_version, study_id                                optional
//	modeller_id                                            required
//	requesting_organisation_id                             optional
//	input[<template_id>].dataset_id                        one per input template of the workflow
//	input[<template_id>].resource.<key>                    one per deferred resource key of that template
//	output[<template_id>].dataset_id                       the same for output templates
//	output[<template_id>].resource.<key>
//	annotation.<key>                                       one per annotation key, required then optional
//
// Template ids match [A-Za-z0-9._/-]+ and so never contain ']': the bracket ends the id
// however many '/' and '.' it holds, and whatever follows ".resource." is the key.
//
// A column is required when what it fills is: the required fixed fields, the dataset id of
// each non-optional template, each non-optional deferred resource of a template that is
// required or has its dataset id column, and each required annotation. Other columns may
// be left out of the file.
//
// Cells: start_time and end_time are epoch seconds (digits) or RFC 3339. Ids and times
// are trimmed of surrounding spaces; other text is kept as written. A cell that is empty
// or blank leaves its field out of the row's document (so a required field left empty is
// reported by the schema). An empty dataset id of an optional template means the run does
// not fulfil that template; of a required template it is a row error. Each row gives at
// most one dataset per template: a run with several datasets for one template is
// registered as JSON instead. Rows whose cells are all blank are skipped.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"provgraph"
)

// CSVRow is one data row read by ParseCSV. Line is the row's first line in the file
// (the header is line 1). Raw is the row as JSON of our flat model-run shape, built as
// far as the row allows (nil when its cells do not line up with the header); a row with
// Errors (whose paths are pointers into Raw) must not be registered.
type CSVRow struct {
	Line   int
	Raw    []byte
	Errors []provgraph.FieldError
}

// fixedColumns are the model run's own fields, in header order.
var fixedColumns = []string{"display_name", "description", "start_time", "end_time", "model_version", "study_id", "modeller_id", "requesting_organisation_id"}

var requiredFixed = []string{"display_name", "description", "start_time", "end_time", "modeller_id"}

// column is what one header cell fills.
type column struct {
	name     string
	side     string // "inputs" or "outputs" for template columns
	template string
	resource string // deferred resource key (annotation key for annotation columns); "" for a dataset id column
	required bool   // for resource columns: the resource is not optional
	slot     bool   // for dataset id columns: the template is not optional
}

// CSVHeader returns the header row for runs of wf: the fixed columns, then per input
// template (workflow order) its dataset id column and one column per deferred resource key
// (template order), the same for outputs, then one column per annotation key, required
// keys first. A template missing from templates gets its dataset id column only; a
// template or key listed twice gets its columns once.
func CSVHeader(wf Workflow, templates map[string]DatasetTemplate) []string {
	var out []string
	for _, c := range columns(wf, templates) {
		out = append(out, c.name)
	}
	return out
}

func columns(wf Workflow, templates map[string]DatasetTemplate) []column {
	var cols []column
	seen := map[string]bool{}
	add := func(c column) {
		if !seen[c.name] {
			seen[c.name] = true
			cols = append(cols, c)
		}
	}
	for _, name := range fixedColumns {
		add(column{name: name, required: slices.Contains(requiredFixed, name)})
	}
	for _, side := range []struct {
		name, prefix string
		refs         []TemplateRef
	}{{"inputs", "input", wf.InputTemplates}, {"outputs", "output", wf.OutputTemplates}} {
		for _, t := range side.refs {
			if seen[datasetColumn(side.prefix, t.TemplateID)] {
				continue
			}
			add(column{name: datasetColumn(side.prefix, t.TemplateID), side: side.name, template: t.TemplateID, slot: !t.Optional})
			for _, r := range templates[t.TemplateID].DeferredResources {
				add(column{name: fmt.Sprintf("%s[%s].resource.%s", side.prefix, t.TemplateID, r.Key), side: side.name,
					template: t.TemplateID, resource: r.Key, required: !r.Optional, slot: !t.Optional})
			}
		}
	}
	for _, key := range wf.Annotations.Required {
		add(column{name: "annotation." + key, resource: key, required: true})
	}
	for _, key := range wf.Annotations.Optional {
		add(column{name: "annotation." + key, resource: key})
	}
	return cols
}

func datasetColumn(prefix, templateID string) string {
	return fmt.Sprintf("%s[%s].dataset_id", prefix, templateID)
}

// ParseCSV reads model runs of the workflow template workflowID (whose template wf is, with
// its dataset templates) from a CSV whose header CSVHeader describes, and returns one
// CSVRow per data row. The error is for the file as a whole: a *provgraph.Error (invalid)
// naming every unknown, repeated or missing column at once, or a row the CSV reader cannot
// parse; too_large when there are more than maxRows data rows; any error of r, wrapped.
// A UTF-8 byte order mark, CRLF line ends and quoted cells (with commas, quotes and line
// breaks inside) are read as spreadsheets write them.
func ParseCSV(r io.Reader, workflowID string, wf Workflow, templates map[string]DatasetTemplate, maxRows int) ([]CSVRow, error) {
	br := bufio.NewReader(r)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // a short or long row is that row's error, not the file's
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, provgraph.Errorf(provgraph.Invalid, "the CSV is empty: it needs a header row")
	}
	if err != nil {
		return nil, readError(err)
	}
	known := columns(wf, templates)
	cols, err := headerColumns(header, known)
	if err != nil {
		return nil, err
	}
	var rows []CSVRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, readError(err)
		}
		if !slices.ContainsFunc(rec, func(s string) bool { return strings.TrimSpace(s) != "" }) {
			continue
		}
		if len(rows) >= maxRows {
			return nil, provgraph.Errorf(provgraph.TooLarge, "the CSV has more than %d rows", maxRows)
		}
		line, _ := cr.FieldPos(0)
		rows = append(rows, buildRow(line, rec, cols, known, workflowID))
	}
	return rows, nil
}

func readError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return provgraph.Errorf(provgraph.Invalid, "the CSV could not be read: %v", pe)
	}
	return fmt.Errorf("reading the CSV: %w", err)
}

// headerColumns matches header cells to known columns, reporting every problem at once.
func headerColumns(header []string, known []column) ([]column, error) {
	byName := map[string]column{}
	for _, c := range known {
		byName[c.name] = c
	}
	var fields []provgraph.FieldError
	cols := make([]column, len(header))
	present := map[string]bool{}
	for i, h := range header {
		name := strings.TrimSpace(h)
		c, ok := byName[name]
		switch {
		case !ok:
			fields = append(fields, provgraph.FieldError{Path: name, Message: fmt.Sprintf("column %d %q is not a column for this workflow template", i+1, name)})
		case present[name]:
			fields = append(fields, provgraph.FieldError{Path: name, Message: fmt.Sprintf("column %d %q repeats an earlier column", i+1, name)})
		}
		present[name] = true
		cols[i] = c
	}
	for _, c := range cols {
		if ds := datasetColumn(strings.TrimSuffix(c.side, "s"), c.template); c.side != "" && c.resource != "" && !present[ds] {
			fields = append(fields, provgraph.FieldError{Path: c.name, Message: fmt.Sprintf("column %q needs column %q", c.name, ds)})
		}
	}
	for _, c := range known {
		if present[c.name] {
			continue
		}
		var need bool
		switch {
		case c.side == "":
			need = c.required // fixed fields and annotations
		case c.resource == "":
			need = c.slot
		default: // a resource column is needed if its dataset will be given
			need = c.required && (c.slot || present[datasetColumn(strings.TrimSuffix(c.side, "s"), c.template)])
		}
		if need {
			fields = append(fields, provgraph.FieldError{Path: c.name, Message: fmt.Sprintf("column %q is required", c.name)})
		}
	}
	if len(fields) > 0 {
		return nil, provgraph.InvalidFields("the CSV header does not fit the workflow template", fields)
	}
	return cols, nil
}

// buildRow turns one record into our flat model-run JSON.
func buildRow(line int, rec []string, cols, known []column, workflowID string) CSVRow {
	row := CSVRow{Line: line}
	fail := func(path, format string, args ...any) {
		row.Errors = append(row.Errors, provgraph.FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if len(rec) != len(cols) {
		fail("", "the row has %d cells, the header %d", len(rec), len(cols))
		return row // the cells cannot be matched to columns
	}
	doc := map[string]any{"workflow_template_id": workflowID}
	assoc := map[string]string{}
	annotations := map[string]string{}
	type given struct {
		id        string
		resources map[string]string
	}
	datasets := map[string]*given{} // by dataset id column name
	slot := func(c column) *given {
		key := datasetColumn(strings.TrimSuffix(c.side, "s"), c.template)
		g, ok := datasets[key]
		if !ok {
			g = &given{resources: map[string]string{}}
			datasets[key] = g
		}
		return g
	}
	for i, c := range cols {
		if strings.TrimSpace(rec[i]) == "" {
			continue
		}
		cell := rec[i]
		switch {
		case c.side != "" && c.resource == "":
			slot(c).id = strings.TrimSpace(cell)
		case c.side != "":
			slot(c).resources[c.resource] = cell
		case strings.HasPrefix(c.name, "annotation."):
			annotations[c.resource] = cell
		case c.name == "start_time" || c.name == "end_time":
			doc[c.name] = timeCell(strings.TrimSpace(cell))
		case c.name == "modeller_id" || c.name == "requesting_organisation_id":
			assoc[c.name] = strings.TrimSpace(cell)
		case c.name == "study_id":
			doc[c.name] = strings.TrimSpace(cell)
		default:
			doc[c.name] = cell
		}
	}
	// Datasets in workflow order, whatever the order of the file's columns.
	lists := map[string][]map[string]any{"inputs": {}, "outputs": {}}
	for _, c := range known {
		if c.side == "" || c.resource != "" {
			continue
		}
		switch g := datasets[c.name]; {
		case g == nil && c.slot:
			fail("/"+c.side, "the workflow's %s template %s needs a dataset: column %s is empty", strings.TrimSuffix(c.side, "s"), c.template, c.name)
		case g == nil:
		case g.id == "":
			fail("/"+c.side, "column %s is empty but resources of template %s are given", c.name, c.template)
		default:
			d := map[string]any{"dataset_template_id": c.template, "dataset_id": g.id}
			if len(g.resources) > 0 {
				d["resources"] = g.resources
			}
			lists[c.side] = append(lists[c.side], d)
		}
	}
	doc["inputs"], doc["outputs"] = lists["inputs"], lists["outputs"]
	doc["associations"] = assoc
	if len(annotations) > 0 {
		doc["annotations"] = annotations
	}
	row.Raw = mustMarshal(doc)
	return row
}

// timeCell is epoch seconds as a JSON number when the cell is all digits, else the text
// for the schema to judge as RFC 3339.
func timeCell(s string) any {
	if isDigits(s) {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return s
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
