package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"provgraph"
	"provgraph/internal/parallel"
	"provgraph/registry"
)

// MaxBatch bounds the records of one batch registration.
const MaxBatch = 1000

// ModelRunWrite is a model run that passed every check needing no database.
type ModelRunWrite struct {
	ID      string
	Run     ModelRun
	Raw     json.RawMessage
	Actor   registry.Actor
	Time    time.Time
	Reason  string // updates only
	IdemKey string
	// Found are the violations found before the graph was read (its consistency): a run
	// with any is checked against the graph all the same, so that one answer reports
	// every violation, and never written.
	Found []provgraph.FieldError
}

// Violations are every violation of the run: those found before the graph was read and
// those the graph shows (c), sorted by pointer.
func (w ModelRunWrite) Violations(c Context) []provgraph.FieldError {
	errs := slices.Concat(w.Found, w.Run.Check(w.Run.WorkflowTemplateID, c))
	slices.SortStableFunc(errs, func(a, b provgraph.FieldError) int { return strings.Compare(a.Path, b.Path) })
	return errs
}

// Result is the outcome of one record of a registration: its stored record or its error.
type Result struct {
	Record registry.Record
	Err    error
}

// Mode says what a batch does when some of its records fail.
type Mode int

const (
	// AllOrNothing writes every record or none.
	AllOrNothing Mode = iota
	// EachOnItsOwn writes the records that pass and reports the others.
	EachOnItsOwn
	// CheckOnly runs every check, inside a transaction that is rolled back.
	CheckOnly
)

// ModelRunStore registers model runs atomically: it reads the Context, calls Check and
// writes, all in one transaction.
type ModelRunStore interface {
	// RegisterModelRuns checks and stores runs in one transaction, as mode says.
	RegisterModelRuns(ctx context.Context, ws []ModelRunWrite, mode Mode) ([]Result, error)
	UpdateModelRun(ctx context.Context, w ModelRunWrite) (registry.Record, error)
}

// ModelRuns is the registration service.
type ModelRuns struct {
	Store   ModelRunStore
	Schemas registry.Validator
	IDs     *registry.IDs
	Now     func() time.Time
	// Templates reads workflow templates for the CSV routes.
	Templates TemplateReader
}

// TemplateReader reads a current workflow template and the dataset templates it names.
type TemplateReader interface {
	// A template the viewer may not read is not found (a dataset template, left out).
	WorkflowTemplates(ctx context.Context, id string, v registry.Viewer) (Workflow, map[string]DatasetTemplate, error)
}

// CSVTemplate is the CSV header for runs of a workflow template.
func (s *ModelRuns) CSVTemplate(ctx context.Context, workflowID string, v registry.Viewer) ([]string, error) {
	if !registry.ValidID(workflowID) {
		return nil, registry.ErrNotFound("workflow-template", workflowID)
	}
	wf, templates, err := s.Templates.WorkflowTemplates(ctx, workflowID, v)
	if err != nil {
		return nil, err
	}
	return CSVHeader(wf, templates), nil
}

// CSVResult is the outcome of one CSV row.
type CSVResult struct {
	Line int
	Result
}

// RegisterCSV registers the rows of a CSV of one workflow template's runs, each on its
// own (or only checks them), and reports every row.
func (s *ModelRuns) RegisterCSV(ctx context.Context, workflowID string, csv io.Reader, actor registry.Actor, idemKey string, checkOnly bool) ([]CSVResult, error) {
	if !registry.ValidID(workflowID) {
		return nil, provgraph.InvalidFields("no such workflow template", []provgraph.FieldError{{Path: "workflow_template_id", Message: fmt.Sprintf("no workflow template %q", workflowID)}})
	}
	wf, templates, err := s.Templates.WorkflowTemplates(ctx, workflowID, actor.Viewer)
	if err != nil {
		return nil, err
	}
	rows, err := ParseCSV(csv, workflowID, wf, templates, MaxBatch)
	if err != nil {
		return nil, err
	}
	out := make([]CSVResult, len(rows))
	var raws [][]byte
	var at []int
	for i, row := range rows {
		out[i].Line = row.Line
		if len(row.Errors) > 0 || row.Raw == nil {
			out[i].Err = provgraph.InvalidFields(fmt.Sprintf("row %d cannot be read", row.Line), row.Errors)
			continue
		}
		raws, at = append(raws, row.Raw), append(at, i)
	}
	if len(raws) == 0 {
		return out, nil
	}
	mode := EachOnItsOwn
	if checkOnly {
		mode = CheckOnly
	}
	results, err := s.RegisterBatch(ctx, raws, actor, idemKey, mode)
	if err != nil {
		return nil, err
	}
	for j, r := range results {
		out[at[j]].Result = r
	}
	return out, nil
}

// Register validates and stores a complete model run.
func (s *ModelRuns) Register(ctx context.Context, raw []byte, actor registry.Actor, idemKey string) (registry.Record, error) {
	w, err := s.prepare(raw, actor)
	if err != nil {
		return registry.Record{}, err
	}
	w.ID, w.IdemKey = s.IDs.New(w.Time), idemKey
	res, err := s.Store.RegisterModelRuns(ctx, []ModelRunWrite{w}, AllOrNothing)
	if err != nil {
		return registry.Record{}, err
	}
	return res[0].Record, res[0].Err
}

// RegisterBatch validates and stores many model runs in one transaction. AllOrNothing:
// every failure of every record in one error, fields under /records/<i>, and nothing
// written. EachOnItsOwn and CheckOnly: one Result per record. A batch Idempotency-Key
// makes each record's retry safe under key "<key>#<index>".
func (s *ModelRuns) RegisterBatch(ctx context.Context, raws [][]byte, actor registry.Actor, idemKey string, mode Mode) ([]Result, error) {
	if len(raws) == 0 || len(raws) > MaxBatch {
		return nil, provgraph.InvalidFields("a batch holds 1 to 1000 records", []provgraph.FieldError{{Path: "/records", Message: fmt.Sprintf("has %d records; send 1 to %d", len(raws), MaxBatch)}})
	}
	results := make([]Result, len(raws))
	prepared := make([]ModelRunWrite, len(raws))
	parallel.Each(len(raws), func(i int) { prepared[i], results[i].Err = s.prepare(raws[i], actor) })
	var ws []ModelRunWrite
	var at []int // index in raws of each write
	for i, w := range prepared {
		if results[i].Err != nil {
			continue
		}
		w.ID = s.IDs.New(w.Time)
		if idemKey != "" {
			w.IdemKey = fmt.Sprintf("%s#%d", idemKey, i)
		}
		ws, at = append(ws, w), append(at, i)
	}
	// Records that failed already are still checked against the graph, so that every
	// failure is reported at once; nothing is written then.
	storeMode := mode
	if mode == AllOrNothing && len(ws) < len(raws) {
		storeMode = CheckOnly
	}
	if len(ws) > 0 {
		stored, err := s.Store.RegisterModelRuns(ctx, ws, storeMode)
		if err != nil {
			return nil, err
		}
		for j, r := range stored {
			results[at[j]] = r
		}
	}
	if mode == AllOrNothing {
		if err := joinErrors(results); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// joinErrors makes one error of every record's failure, fields prefixed /records/<i>;
// a failure that is not a validation error (a conflict, say) is returned as it is.
func joinErrors(results []Result) error {
	var fields []provgraph.FieldError
	for i, r := range results {
		if r.Err == nil {
			continue
		}
		var e *provgraph.Error
		if !errors.As(r.Err, &e) || e.Code != provgraph.Invalid {
			return r.Err
		}
		if len(e.Fields) == 0 {
			fields = append(fields, provgraph.FieldError{Path: fmt.Sprintf("/records/%d", i), Message: e.Message})
		}
		for _, f := range e.Fields {
			fields = append(fields, provgraph.FieldError{Path: fmt.Sprintf("/records/%d%s", i, f.Path), Message: f.Message})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return provgraph.InvalidFields("records of the batch failed; nothing was written", fields)
}

// Update stores a new version of a model run.
func (s *ModelRuns) Update(ctx context.Context, id string, raw []byte, actor registry.Actor, reason string) (registry.Record, error) {
	if !registry.ValidID(id) {
		return registry.Record{}, registry.ErrNotFound("model-run", id)
	}
	if reason == "" {
		return registry.Record{}, provgraph.InvalidFields("an update needs a reason", []provgraph.FieldError{{Path: "reason", Message: "is required"}})
	}
	if len(reason) > 1024 {
		return registry.Record{}, provgraph.InvalidFields("reason is too long", []provgraph.FieldError{{Path: "reason", Message: "at most 1024 characters"}})
	}
	w, err := s.prepare(raw, actor)
	if err != nil {
		return registry.Record{}, err
	}
	w.ID, w.Reason = id, reason
	return s.Store.UpdateModelRun(ctx, w)
}

// ErrSchema is the cause of a model run's refusal by its JSON Schema (the first stage of
// validation), as opposed to its refusal by the rules about the records it names: a
// foreign API may answer the two differently (Provena: FastAPI's 422, then 400).
var ErrSchema = errors.New("the model run does not match its schema")

func schemaError(fields []provgraph.FieldError) error {
	e := provgraph.Wrap(provgraph.Invalid, ErrSchema, ErrSchema.Error())
	e.Fields = fields
	return e
}

// prepare validates a raw record without storing it.
func (s *ModelRuns) prepare(raw []byte, actor registry.Actor) (ModelRunWrite, error) {
	// Three stages: the schema, the run's own consistency, the records it names. Each
	// reports every violation it finds, and a failing stage does not hide the next one's:
	// a run that fails its schema is still checked for consistency when it can be read,
	// and one that is inconsistent is still checked against the graph (by storage, which
	// writes nothing then). Only the ids of a run that passed its schema are looked up.
	doc, errs := s.Schemas.Decode("model-run", raw)
	var run ModelRun
	if err := json.Unmarshal(raw, &run); err != nil {
		if len(errs) == 0 {
			errs = []provgraph.FieldError{{Path: "", Message: err.Error()}}
		}
		return ModelRunWrite{}, schemaError(errs)
	}
	if len(errs) > 0 {
		errs = slices.Concat(errs, run.CheckShape())
		slices.SortStableFunc(errs, func(a, b provgraph.FieldError) int { return strings.Compare(a.Path, b.Path) })
		return ModelRunWrite{}, schemaError(errs)
	}
	compact, err := json.Marshal(doc)
	if err != nil {
		return ModelRunWrite{}, err
	}
	return ModelRunWrite{Run: run, Raw: compact, Actor: actor, Time: s.Now().UTC(), Found: run.CheckShape()}, nil
}
