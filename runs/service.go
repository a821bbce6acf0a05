package runs

import (
	"context"
	"encoding/json"
	"time"

	"provgraph"
	"provgraph/registry"
)

// ModelRunWrite is a model run that passed every check needing no database.
type ModelRunWrite struct {
	ID      string
	Run     ModelRun
	Raw     json.RawMessage
	Actor   registry.Actor
	Time    time.Time
	Reason  string // updates only
	IdemKey string
}

// ModelRunStore registers model runs atomically: it reads the Context, calls Check and
// writes, all in one transaction.
type ModelRunStore interface {
	RegisterModelRun(ctx context.Context, w ModelRunWrite) (registry.Record, error)
	UpdateModelRun(ctx context.Context, w ModelRunWrite) (registry.Record, error)
}

// ModelRuns is the registration service.
type ModelRuns struct {
	Store   ModelRunStore
	Schemas registry.Validator
	IDs     *registry.IDs
	Now     func() time.Time
}

// Register validates and stores a complete model run.
func (s *ModelRuns) Register(ctx context.Context, raw []byte, actor registry.Actor, idemKey string) (registry.Record, error) {
	w, err := s.prepare(raw, actor)
	if err != nil {
		return registry.Record{}, err
	}
	w.ID, w.IdemKey = s.IDs.New(w.Time), idemKey
	return s.Store.RegisterModelRun(ctx, w)
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

// Prepare validates a raw record without storing it (batch and CSV use it per row).
func (s *ModelRuns) prepare(raw []byte, actor registry.Actor) (ModelRunWrite, error) {
	if errs := s.Schemas.Validate("model-run", raw); len(errs) > 0 {
		return ModelRunWrite{}, provgraph.InvalidFields("the model run does not match its schema", errs)
	}
	var run ModelRun
	if err := json.Unmarshal(raw, &run); err != nil {
		return ModelRunWrite{}, provgraph.InvalidFields("the model run could not be read", []provgraph.FieldError{{Path: "", Message: err.Error()}})
	}
	if errs := run.CheckShape(); len(errs) > 0 {
		return ModelRunWrite{}, provgraph.InvalidFields("the model run is not consistent", errs)
	}
	doc, err := registry.Decode(raw)
	if err != nil {
		return ModelRunWrite{}, err
	}
	compact, err := json.Marshal(doc)
	if err != nil {
		return ModelRunWrite{}, err
	}
	return ModelRunWrite{Run: run, Raw: compact, Actor: actor, Time: s.Now().UTC()}, nil
}
