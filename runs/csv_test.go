package runs

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"provgraph"
)

// csvWorld is a workflow whose template ids hold '/' and '.': required input 10378.1/in.a
// (deferred resources forcing, required, and extra, optional), optional input 10378.1/opt
// (deferred resource cfg, required), output 10378.1/out; annotations scenario (required)
// and notes (optional).
func csvWorld(t testing.TB) (Workflow, map[string]DatasetTemplate, Context) {
	t.Helper()
	var w Workflow
	if err := json.Unmarshal([]byte(`{"software_id":"m","input_templates":[{"template_id":"10378.1/in.a"},{"template_id":"10378.1/opt","optional":true}],
		"output_templates":[{"template_id":"10378.1/out"}],"annotations":{"required":["scenario"],"optional":["notes"]}}`), &w); err != nil {
		t.Fatal(err)
	}
	var in, opt DatasetTemplate
	json.Unmarshal([]byte(`{"deferred_resources":[{"key":"forcing"},{"key":"extra","optional":true}]}`), &in)
	json.Unmarshal([]byte(`{"deferred_resources":[{"key":"cfg"}]}`), &opt)
	templates := map[string]DatasetTemplate{"10378.1/in.a": in, "10378.1/opt": opt, "10378.1/out": {}}
	c := Context{
		Kinds: map[string]string{"wf": "WorkflowTemplate", "m": "Model", "10378.1/in.a": "DatasetTemplate", "10378.1/opt": "DatasetTemplate",
			"10378.1/out": "DatasetTemplate", "d1": "Dataset", "d2": "Dataset", "d3": "Dataset", "p": "Person", "o": "Organisation", "s": "Study"},
		Workflow:  &w,
		Templates: templates,
	}
	return w, templates, c
}

var wantHeader = []string{
	"display_name", "description", "start_time", "end_time", "model_version", "study_id", "modeller_id", "requesting_organisation_id",
	"input[10378.1/in.a].dataset_id", "input[10378.1/in.a].resource.forcing", "input[10378.1/in.a].resource.extra",
	"input[10378.1/opt].dataset_id", "input[10378.1/opt].resource.cfg",
	"output[10378.1/out].dataset_id",
	"annotation.scenario", "annotation.notes",
}

func TestCSVHeader(t *testing.T) {
	w, templates, _ := csvWorld(t)
	if got := CSVHeader(w, templates); !slices.Equal(got, wantHeader) {
		t.Fatalf("got %q\nwant %q", got, wantHeader)
	}
	// A template listed twice gets its columns once; one missing from templates gets no
	// resource columns; the same template on both sides gets both prefixes.
	w.InputTemplates = append(w.InputTemplates, w.InputTemplates[0], TemplateRef{TemplateID: "unknown"})
	w.OutputTemplates = append(w.OutputTemplates, TemplateRef{TemplateID: "10378.1/opt"})
	got := CSVHeader(w, templates)
	for _, col := range []string{"input[unknown].dataset_id", "output[10378.1/opt].dataset_id", "output[10378.1/opt].resource.cfg"} {
		if !slices.Contains(got, col) {
			t.Errorf("no column %s in %q", col, got)
		}
	}
	if n := len(got); n != len(wantHeader)+3 {
		t.Errorf("%d columns: %q", n, got)
	}
}

// writeCSV writes the header and rows as a spreadsheet would: BOM, CRLF, quoting.
func writeCSV(t testing.TB, header []string, rows ...map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("\uFEFF")
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	w.Write(header)
	for _, row := range rows {
		rec := make([]string, len(header))
		for i, h := range header {
			rec[i] = row[h]
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func goodRow() map[string]string {
	return map[string]string{
		"display_name": "Run 1", "description": "Calibrated, \"tuned\"\nand checked", "start_time": "1700000000", "end_time": " 2023-11-15T23:00:00+10:00 ",
		"modeller_id": "p", "requesting_organisation_id": "o", "study_id": "s",
		"input[10378.1/in.a].dataset_id": "d1", "input[10378.1/in.a].resource.forcing": "forcing/a b.nc",
		"output[10378.1/out].dataset_id": "d2", "annotation.scenario": "ssp2",
	}
}

func mustParseCSV(t *testing.T, data []byte, maxRows int) []CSVRow {
	t.Helper()
	w, templates, _ := csvWorld(t)
	rows, err := ParseCSV(bytes.NewReader(data), "wf", w, templates, maxRows)
	if err != nil {
		t.Fatalf("ParseCSV: %v", err)
	}
	return rows
}

func TestParseCSVRoundTrip(t *testing.T) {
	w, templates, c := csvWorld(t)
	second := goodRow()
	second["display_name"], second["model_version"] = "Run 2", "v1.2"
	second["input[10378.1/opt].dataset_id"], second["input[10378.1/opt].resource.cfg"] = "d3", "cfg.yml"
	second["input[10378.1/in.a].resource.extra"], second["annotation.notes"] = "x.txt", "a note"
	rows := mustParseCSV(t, writeCSV(t, CSVHeader(w, templates), goodRow(), second), 10)
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	// The first row's description spans two lines, so the second row starts on line 4.
	if rows[0].Line != 2 || rows[1].Line != 4 {
		t.Errorf("lines %d, %d", rows[0].Line, rows[1].Line)
	}
	sch := mustSchemas(t)
	var runs []ModelRun
	for _, r := range rows {
		if len(r.Errors) > 0 {
			t.Fatalf("line %d: %v", r.Line, r.Errors)
		}
		m := mustAcceptable(t, sch, r.Raw)
		if errs := m.Check("wf", c); len(errs) > 0 {
			t.Fatalf("line %d: Check: %v", r.Line, errs)
		}
		runs = append(runs, m)
	}
	first := runs[0]
	if first.Description != "Calibrated, \"tuned\"\nand checked" || first.StartTime.Unix() != 1700000000 || first.EndTime.Unix() != 1700053200 {
		t.Errorf("first row: %+v", first)
	}
	if len(first.Inputs) != 1 || first.ModelVersion != "" || first.Annotations["notes"] != "" || strings.Contains(string(rows[0].Raw), "model_version") {
		t.Errorf("empty optional cells not omitted: %s", rows[0].Raw)
	}
	wantInputs := []Dataset{
		{DatasetTemplateID: "10378.1/in.a", DatasetID: "d1", Resources: map[string]string{"forcing": "forcing/a b.nc", "extra": "x.txt"}},
		{DatasetTemplateID: "10378.1/opt", DatasetID: "d3", Resources: map[string]string{"cfg": "cfg.yml"}},
	}
	if got := runs[1].Inputs; !reflect.DeepEqual(got, wantInputs) {
		t.Errorf("second row inputs %+v", got)
	}
	if runs[1].ModelVersion != "v1.2" || runs[1].Annotations["notes"] != "a note" {
		t.Errorf("second row: %+v", runs[1])
	}

	// Columns in another order (optional ones left out) give the same documents.
	header := slices.Clone(CSVHeader(w, templates))
	slices.Reverse(header)
	reordered := mustParseCSV(t, writeCSV(t, header, goodRow(), second), 10)
	for i := range rows {
		if !bytes.Equal(reordered[i].Raw, rows[i].Raw) {
			t.Errorf("row %d differs with reordered columns:\n%s\n%s", i, reordered[i].Raw, rows[i].Raw)
		}
	}
	minimal := slices.DeleteFunc(slices.Clone(wantHeader), func(h string) bool {
		return strings.Contains(h, "opt") || strings.Contains(h, "notes") || strings.Contains(h, "extra") || h == "model_version"
	})
	if got := mustParseCSV(t, writeCSV(t, minimal, goodRow()), 10); !bytes.Equal(got[0].Raw, rows[0].Raw) {
		t.Errorf("minimal header:\n%s\n%s", got[0].Raw, rows[0].Raw)
	}
}

func TestParseCSVRowErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(row map[string]string)
		want []string
	}{
		{"required template left empty", func(r map[string]string) { r["input[10378.1/in.a].dataset_id"] = " " }, []string{"/inputs"}},
		{"optional template left empty is not fulfilled", func(r map[string]string) {}, nil},
		{"resource without its dataset", func(r map[string]string) { r["input[10378.1/opt].resource.cfg"] = "c" }, []string{"/inputs"}},
	}
	w, templates, _ := csvWorld(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := goodRow()
			tt.edit(row)
			rows := mustParseCSV(t, writeCSV(t, CSVHeader(w, templates), row), 1)
			var got []string
			for _, e := range rows[0].Errors {
				got = append(got, e.Path)
				if !strings.Contains(e.Message, "10378.1/") {
					t.Errorf("message does not name the template: %s", e.Message)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("wrong number of cells", func(t *testing.T) {
		data := append(writeCSV(t, CSVHeader(w, templates)), "a,b\r\n"...)
		rows := mustParseCSV(t, data, 1)
		if len(rows) != 1 || len(rows[0].Errors) != 1 || rows[0].Errors[0].Path != "" || rows[0].Raw != nil {
			t.Fatalf("got %+v", rows)
		}
	})
	t.Run("empty required cell is left to the schema", func(t *testing.T) {
		row := goodRow()
		row["display_name"] = ""
		rows := mustParseCSV(t, writeCSV(t, CSVHeader(w, templates), row), 1)
		errs := mustSchemas(t).Validate("model-run", rows[0].Raw)
		if len(rows[0].Errors) > 0 || len(errs) != 1 || errs[0].Path != "/display_name" {
			t.Fatalf("row errors %v, schema %v", rows[0].Errors, errs)
		}
	})
}

func TestParseCSVFileErrors(t *testing.T) {
	w, templates, _ := csvWorld(t)
	header := CSVHeader(w, templates)
	without := func(col string) []string {
		return slices.DeleteFunc(slices.Clone(header), func(h string) bool { return h == col })
	}
	tests := []struct {
		name   string
		data   []byte
		code   provgraph.Code
		naming []string // what the error must name
	}{
		{"empty file", nil, provgraph.Invalid, nil},
		{"unknown column", writeCSV(t, append(slices.Clone(header), "input[10378.1/nope].dataset_id")), provgraph.Invalid, []string{"input[10378.1/nope].dataset_id"}},
		{"column repeated", writeCSV(t, append(slices.Clone(header), "modeller_id")), provgraph.Invalid, []string{"modeller_id"}},
		{"required column missing", writeCSV(t, without("modeller_id")), provgraph.Invalid, []string{"modeller_id"}},
		{"required template's column missing", writeCSV(t, without("output[10378.1/out].dataset_id")), provgraph.Invalid, []string{"output[10378.1/out].dataset_id"}},
		{"required resource missing", writeCSV(t, without("input[10378.1/in.a].resource.forcing")), provgraph.Invalid, []string{"input[10378.1/in.a].resource.forcing"}},
		{"resource column without its dataset column", writeCSV(t, without("input[10378.1/opt].dataset_id")), provgraph.Invalid, []string{"input[10378.1/opt].resource.cfg"}},
		{"every header problem at once", writeCSV(t, append(without("annotation.scenario"), "colour")), provgraph.Invalid, []string{"annotation.scenario", "colour"}},
		{"bare quote", append(writeCSV(t, header), "a\"b\r\n"...), provgraph.Invalid, nil},
		{"too many rows", writeCSV(t, header, goodRow(), goodRow(), goodRow()), provgraph.TooLarge, []string{"2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := ParseCSV(bytes.NewReader(tt.data), "wf", w, templates, 2)
			if err == nil {
				t.Fatalf("no error; rows %+v", rows)
			}
			if got := provgraph.ErrorCode(err); got != tt.code {
				t.Errorf("code %s, want %s (%v)", got, tt.code, err)
			}
			var e *provgraph.Error
			errors.As(err, &e)
			text := e.Message
			for _, f := range e.Fields {
				text += " " + f.Path + ": " + f.Message
			}
			for _, name := range tt.naming {
				if !strings.Contains(text, name) {
					t.Errorf("error %q does not name %s", text, name)
				}
			}
		})
	}
}

func TestParseCSVRowLimit(t *testing.T) {
	w, templates, _ := csvWorld(t)
	data := writeCSV(t, CSVHeader(w, templates), goodRow(), goodRow())
	data = append(data, strings.Repeat(",", len(wantHeader)-1)+"\r\n\r\n"...) // blank rows are skipped, not counted
	if rows := mustParseCSV(t, data, 2); len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	if rows := mustParseCSV(t, writeCSV(t, CSVHeader(w, templates)), 0); len(rows) != 0 {
		t.Fatalf("header only: %d rows", len(rows))
	}
	// Plain LF and no BOM read the same.
	plain := strings.ReplaceAll(strings.TrimPrefix(string(writeCSV(t, CSVHeader(w, templates), goodRow())), "\uFEFF"), "\r\n", "\n")
	if rows := mustParseCSV(t, []byte(plain), 1); len(rows) != 1 || len(rows[0].Errors) > 0 {
		t.Fatalf("LF without BOM: %+v", rows)
	}
}

func FuzzParseCSV(f *testing.F) {
	w, templates, _ := csvWorld(f)
	f.Add(writeCSV(f, CSVHeader(w, templates), goodRow()))
	f.Add([]byte("\uFEFFdisplay_name,description\r\n\"a\nb\",c\r\n"))
	f.Add([]byte("modeller_id\n\"unterminated"))
	f.Add(writeCSV(f, wantHeader[:9], goodRow(), map[string]string{"start_time": "x"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ParseCSV(bytes.NewReader(data), "wf", w, templates, 5)
		if err != nil {
			if rows != nil {
				t.Fatal("rows with an error")
			}
			return
		}
		for _, r := range rows {
			if r.Raw == nil && len(r.Errors) > 0 {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(r.Raw, &m); err != nil {
				t.Fatalf("line %d: %s: %v", r.Line, r.Raw, err)
			}
			if m["workflow_template_id"] != "wf" || r.Line < 2 {
				t.Fatalf("line %d: %s", r.Line, r.Raw)
			}
		}
	})
}
