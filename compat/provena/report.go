package provena

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"provgraph"
	"provgraph/compat"
	"provgraph/lineage"
	"provgraph/registry"
)

// Doc is a Word document being written: headings, paragraphs and tables, nothing else.
type Doc struct{ body strings.Builder }

func esc(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Heading adds a heading of level 0 (the title) to 2.
func (d *Doc) Heading(level int, text string) {
	style := []string{"Title", "Heading1", "Heading2"}[min(max(level, 0), 2)]
	fmt.Fprintf(&d.body, `<w:p><w:pPr><w:pStyle w:val="%s"/></w:pPr><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>`, style, esc(text))
}

// Para adds a paragraph.
func (d *Doc) Para(text string) {
	fmt.Fprintf(&d.body, `<w:p><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>`, esc(text))
}

// Table adds a table whose first row is its header.
func (d *Doc) Table(rows [][]string) {
	d.body.WriteString(`<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="5000" w:type="pct"/><w:tblBorders>`)
	for _, side := range []string{"top", "left", "bottom", "right", "insideH", "insideV"} {
		fmt.Fprintf(&d.body, `<w:%s w:val="single" w:sz="4" w:space="0" w:color="999999"/>`, side)
	}
	d.body.WriteString(`</w:tblBorders></w:tblPr>`)
	for i, row := range rows {
		d.body.WriteString(`<w:tr>`)
		for _, cell := range row {
			bold := ""
			if i == 0 {
				bold = `<w:rPr><w:b/></w:rPr>`
			}
			fmt.Fprintf(&d.body, `<w:tc><w:p><w:r>%s<w:t xml:space="preserve">%s</w:t></w:r></w:p></w:tc>`, bold, esc(cell))
		}
		d.body.WriteString(`</w:tr>`)
	}
	d.body.WriteString(`</w:tbl><w:p/>`)
}

const wordNS = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"`

// Bytes is the .docx: the package parts Word needs (content types, relationships, the
// document and its styles).
func (d *Doc) Bytes() ([]byte, error) {
	heading := func(id, name string, size int) string {
		return fmt.Sprintf(`<w:style w:type="paragraph" w:styleId="%s"><w:name w:val="%s"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/>`+
			`<w:pPr><w:keepNext/><w:spacing w:before="240" w:after="120"/></w:pPr><w:rPr><w:b/><w:sz w:val="%d"/></w:rPr></w:style>`, id, name, size)
	}
	parts := []struct{ name, body string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
			`<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>` +
			`<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>` +
			`</Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
			`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>` +
			`</Relationships>`},
		{"word/_rels/document.xml.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
			`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>` +
			`</Relationships>`},
		{"word/styles.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:styles ` + wordNS + `>` +
			`<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/><w:rPr><w:sz w:val="22"/></w:rPr></w:style>` +
			heading("Title", "Title", 44) + heading("Heading1", "heading 1", 32) + heading("Heading2", "heading 2", 26) +
			`<w:style w:type="table" w:styleId="TableGrid"><w:name w:val="Table Grid"/></w:style></w:styles>`},
		{"word/document.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ` + wordNS + `><w:body>` +
			d.body.String() + `<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1134" w:right="1134" w:bottom="1134" w:left="1134" w:header="709" w:footer="709" w:gutter="0"/></w:sectPr>` +
			`</w:body></w:document>`},
	}
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, p := range parts {
		f, err := z.Create(p.name)
		if err != nil {
			return nil, err
		}
		if _, err := f.Write([]byte(p.body)); err != nil {
			return nil, err
		}
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// maxReportRuns bounds the model runs one study's report lists.
const maxReportRuns = 200

// report answers a Word study close-out report: the study (or the one model run), each
// model run with its inputs and outputs, and what lies upstream of its inputs and
// downstream of its outputs to the requested depth.
func (a *api) report(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID      string `json:"id"`
		Subtype string `json:"item_subtype"`
		Depth   *int   `json:"depth"`
	}
	if _, err := readJSON(r, &req); err != nil {
		Fail(w, r, err)
		return
	}
	depth := 1
	if req.Depth != nil {
		depth = *req.Depth
	}
	switch {
	case req.ID == "":
		Fail(w, r, &schemaError{[]map[string]any{{"loc": []any{"body", "id"}, "msg": "field required", "type": "value_error.missing"}}})
		return
	case depth < 1 || depth > 3:
		Fail(w, r, &schemaError{[]map[string]any{{"loc": []any{"body", "depth"}, "msg": "ensure this value is between 1 and 3", "type": "value_error.number"}}})
		return
	case req.Subtype != "MODEL_RUN" && req.Subtype != "STUDY":
		Fail(w, r, detail(provgraph.Invalid, 400, "a report is of a MODEL_RUN or a STUDY, not %q", req.Subtype))
		return
	}
	p := compat.Caller(r)
	ctx := r.Context()
	var doc Doc
	var runIDs []string
	if req.Subtype == "STUDY" {
		study, err := a.get(r, "study", req.ID)
		if err != nil {
			Fail(w, r, err)
			return
		}
		var s struct{ Title, Description string }
		json.Unmarshal(study.Record, &s)
		doc.Heading(0, "Study Close Out Report")
		doc.Para("Study: " + s.Title + " (" + study.ID + ")")
		doc.Para(s.Description)
		res, err := a.Lineage.Walk(ctx, lineage.Query{ID: req.ID, Direction: lineage.Downstream, Depth: 1, Kinds: []string{"ModelRun"}, Limit: maxReportRuns + 1, Viewer: p.Viewer()})
		if err != nil {
			Fail(w, r, err)
			return
		}
		for _, n := range res.Nodes {
			if n.Kind == "ModelRun" && n.ID != req.ID {
				runIDs = append(runIDs, n.ID)
			}
		}
		if len(runIDs) > maxReportRuns || res.Truncated {
			Fail(w, r, detail(provgraph.Invalid, 400, "study %s has more than %d model runs; ask for a report per model run", req.ID, maxReportRuns))
			return
		}
		slices.Sort(runIDs)
		doc.Para(fmt.Sprintf("Model runs of this study: %d. Inputs are followed upstream and outputs downstream to depth %d.", len(runIDs), depth))
	} else {
		doc.Heading(0, "Model Run Report")
		runIDs = []string{req.ID}
		doc.Para(fmt.Sprintf("Inputs are followed upstream and outputs downstream to depth %d.", depth))
	}
	for _, id := range runIDs {
		rec, err := a.get(r, "model-run", id)
		if err != nil && req.Subtype == "STUDY" && provgraph.ErrorCode(err) == provgraph.Invalid {
			continue // deleted since: history, not part of the study's close-out
		}
		if err != nil {
			Fail(w, r, err)
			return
		}
		var run struct {
			DisplayName        string `json:"display_name"`
			Description        string `json:"description"`
			WorkflowTemplateID string `json:"workflow_template_id"`
			ModelVersion       string `json:"model_version"`
			Associations       struct {
				ModellerID string `json:"modeller_id"`
			} `json:"associations"`
			Inputs, Outputs []csvDataset
		}
		json.Unmarshal(rec.Record, &run)
		doc.Heading(1, "Model run: "+run.DisplayName)
		mr, _ := ModelRunRecord(rec.Record)
		var times struct{ Start, End int64 }
		var tt map[string]any
		json.Unmarshal(mr, &tt)
		if v, ok := tt["start_time"].(float64); ok {
			times.Start = int64(v)
		}
		if v, ok := tt["end_time"].(float64); ok {
			times.End = int64(v)
		}
		doc.Table([][]string{{"Field", "Value"}, {"Id", rec.ID}, {"Description", run.Description},
			{"Workflow template", run.WorkflowTemplateID}, {"Model version", run.ModelVersion}, {"Modeller", run.Associations.ModellerID},
			{"Started", time.Unix(times.Start, 0).UTC().Format(time.RFC3339)}, {"Ended", time.Unix(times.End, 0).UTC().Format(time.RFC3339)}})
		for _, side := range []struct {
			title string
			list  []csvDataset
			dir   lineage.Direction
		}{{"Inputs", run.Inputs, lineage.Upstream}, {"Outputs", run.Outputs, lineage.Downstream}} {
			doc.Heading(2, side.title)
			rows := [][]string{{"Dataset", "Name", "Template", fmt.Sprintf("%s to depth %d", map[lineage.Direction]string{lineage.Upstream: "Upstream", lineage.Downstream: "Downstream"}[side.dir], depth)}}
			for _, ds := range side.list {
				res, err := a.Lineage.Walk(ctx, lineage.Query{ID: ds.DatasetID, Direction: side.dir, Depth: depth, Limit: 200, Viewer: p.Viewer()})
				if err != nil && provgraph.ErrorCode(err) != provgraph.NotFound {
					Fail(w, r, err)
					return
				}
				name := ""
				var reached []string
				for _, n := range GraphOf(res).Nodes {
					if n.ID == ds.DatasetID {
						continue
					}
					reached = append(reached, n.ID+" ("+n.Subtype+")")
				}
				for _, n := range res.Nodes {
					if n.ID == ds.DatasetID {
						name = n.Name
					}
				}
				rows = append(rows, []string{ds.DatasetID, name, ds.TemplateID, strings.Join(reached, "; ")})
			}
			if len(side.list) == 0 {
				doc.Para("None.")
				continue
			}
			doc.Table(rows)
		}
	}
	doc.Para("Generated by provgraph at " + time.Now().UTC().Format(time.RFC3339) + ".")
	b, err := doc.Bytes()
	if err != nil {
		Fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
	w.Header().Set("Content-Disposition", `attachment; filename="report.docx"`)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// get reads a current record; a miss or a deleted one is a 400 naming the id, as
// Provena's id validation answers.
func (a *api) get(r *http.Request, kindName, id string) (registry.Record, error) {
	if !registry.ValidID(id) {
		return registry.Record{}, detail(provgraph.Invalid, 400, "Failed to validate the %s id %q", kindName, id)
	}
	rec, err := a.Registry.Get(r.Context(), kind(kindName), id, 0, compat.Caller(r).Viewer())
	if provgraph.ErrorCode(err) == provgraph.NotFound {
		return rec, detail(provgraph.Invalid, 400, "Failed to validate the %s id %q: %s", kindName, id, err.Error())
	}
	return rec, err
}
