package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"provgraph"
)

// Validator checks a document against a named JSON Schema, returning every violation.
type Validator interface {
	// Decode checks doc against the schema and answers it decoded (numbers as
	// json.Number), or every failure.
	Decode(schema string, doc []byte) (map[string]any, []provgraph.FieldError)
}

// Service applies the rules of the registry in front of a Store.
type Service struct {
	Store     Store
	Schemas   Validator
	IDs       *IDs
	Now       func() time.Time
	MaxReason int
}

// Create validates a new record and stores it.
func (s *Service) Create(ctx context.Context, k Kind, raw []byte, actor Actor, idemKey string) (Record, error) {
	w, err := s.prepare(k, raw, actor)
	if err != nil {
		return Record{}, err
	}
	w.ID = s.IDs.New(w.Time)
	w.IdemKey = idemKey
	return s.Store.Create(ctx, w)
}

// Update validates a new version of a record and stores it; reason is mandatory.
func (s *Service) Update(ctx context.Context, k Kind, id string, raw []byte, actor Actor, reason string) (Record, error) {
	if !ValidID(id) {
		return Record{}, ErrNotFound(k.Name, id)
	}
	reason, err := s.reason(reason)
	if err != nil {
		return Record{}, err
	}
	w, err := s.prepare(k, raw, actor)
	if err != nil {
		return Record{}, err
	}
	w.ID, w.Reason = id, reason
	return s.Store.Update(ctx, w)
}

// Get fetches the latest version of a record, or version n when n > 0.
// A record v may not read is not found.
func (s *Service) Get(ctx context.Context, k Kind, id string, version int, v Viewer) (Record, error) {
	if !ValidID(id) {
		return Record{}, ErrNotFound(k.Name, id)
	}
	return s.Store.Get(ctx, k, id, version, v)
}

// History lists every version of a record, newest first.
func (s *Service) History(ctx context.Context, k Kind, id string, v Viewer) ([]Record, error) {
	if !ValidID(id) {
		return nil, ErrNotFound(k.Name, id)
	}
	return s.Store.History(ctx, k, id, v)
}

// List returns one page.
func (s *Service) List(ctx context.Context, q ListQuery) (Page, error) {
	return s.Store.List(ctx, q)
}

// Delete invalidates a record that nothing depends on.
func (s *Service) Delete(ctx context.Context, k Kind, id string, actor Actor, reason string) error {
	if !ValidID(id) {
		return ErrNotFound(k.Name, id)
	}
	if len(reason) > s.maxReason() {
		return provgraph.InvalidFields("reason is too long", []provgraph.FieldError{{Path: "reason", Message: fmt.Sprintf("at most %d characters", s.maxReason())}})
	}
	return s.Store.Delete(ctx, k, id, actor, reason, s.Now().UTC())
}

func (s *Service) maxReason() int {
	if s.MaxReason > 0 {
		return s.MaxReason
	}
	return 1024
}

func (s *Service) reason(r string) (string, error) {
	r = strings.TrimSpace(r)
	switch {
	case r == "":
		return "", provgraph.InvalidFields("an update needs a reason", []provgraph.FieldError{{Path: "reason", Message: "is required"}})
	case len(r) > s.maxReason():
		return "", provgraph.InvalidFields("reason is too long", []provgraph.FieldError{{Path: "reason", Message: fmt.Sprintf("at most %d characters", s.maxReason())}})
	}
	return r, nil
}

// prepare runs every check that needs no database: the schema, then the kind's own rules.
// A document that breaks a rule goes on to storage, which checks its references too and
// reports every violation together, writing nothing.
func (s *Service) prepare(k Kind, raw []byte, actor Actor) (Write, error) {
	doc, errs := s.Schemas.Decode(k.Name, raw)
	if len(errs) > 0 {
		return Write{}, provgraph.InvalidFields(fmt.Sprintf("the %s does not match its schema", k.Name), errs)
	}
	compact, err := json.Marshal(doc)
	if err != nil {
		return Write{}, err
	}
	return Write{Kind: k, Raw: compact, Doc: doc, Actor: actor, Time: s.Now().UTC(), Found: k.Check(doc)}, nil
}
