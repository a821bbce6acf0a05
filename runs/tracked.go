package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"provgraph"
	"provgraph/registry"
)

// Run is a tracked run as the API shows it; View trims it to what a view holds.
type Run struct {
	ID                 string            `json:"id"`
	State              State             `json:"state"`
	Name               string            `json:"name,omitempty"`
	Description        string            `json:"description,omitempty"`
	Kind               string            `json:"kind,omitempty"`
	Archived           bool              `json:"archived"`
	Attempt            int               `json:"attempt,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	StudyID            string            `json:"study_id,omitempty"`
	WorkflowTemplateID string            `json:"workflow_template_id,omitempty"`
	Executor           string            `json:"executor,omitempty"`
	LeaseUntil         *time.Time        `json:"lease_until,omitempty"`
	Message            string            `json:"message,omitempty"`
	CreatedAt          time.Time         `json:"created_at"`
	CreatedBy          string            `json:"created_by,omitempty"`
	UpdatedAt          time.Time         `json:"updated_at"`
	StartedAt          *time.Time        `json:"started_at,omitempty"`
	EndedAt            *time.Time        `json:"ended_at,omitempty"`
	DeletedAt          *time.Time        `json:"deleted_at,omitempty"`
	Spec               json.RawMessage   `json:"spec,omitempty"`
	Events             []Event           `json:"events,omitempty"`
	Outputs            []RunInput        `json:"outputs,omitempty"`
	// Attempts are the earlier attempts of a retried run, oldest first.
	Attempts []Attempt `json:"attempts,omitempty"`
}

// Attempt is an ended attempt of a run that was retried.
type Attempt struct {
	Attempt   int        `json:"attempt"`
	State     State      `json:"state"`
	Executor  string     `json:"executor,omitempty"`
	Message   string     `json:"message,omitempty"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
}

// View is the run as a view shows it: minimal is id and state; basic leaves out the
// spec, events and outputs; full is everything.
func (r Run) View(view string) Run {
	switch view {
	case ViewMinimal:
		return Run{ID: r.ID, State: r.State, Archived: r.Archived, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	case ViewFull:
		return r
	}
	r.Spec, r.Events, r.Outputs = nil, nil, nil
	return r
}

// RunCreate is a validated spec ready to be stored.
type RunCreate struct {
	ID      string
	Spec    RunSpec
	Raw     json.RawMessage
	Actor   registry.Actor
	Time    time.Time
	IdemKey string
	// Contents are files the run is submitted with, already in Blobs: each becomes an
	// artifact entity the run used, created with it.
	Contents []Content
}

// Content is a file a run is submitted with (a foreign client's project zip), kept by
// content in Blobs: an (:Artifact:Entity) the run USED in Role.
type Content struct {
	Name string
	// Role is the role of the usage, a plain name ("content" when empty).
	Role      string
	SHA256    string
	Size      int64
	MediaType string
	// ID is the entity's id, set by the service.
	ID string
}

// contentRole is a usage's role: a plain name, never a record id (which has a '/').
var contentRole = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// MaxContents bounds the files a run is submitted with.
const MaxContents = 16

// Change is one operation on a run. Admin lets an operator act for the executor.
type Change struct {
	ID      string
	Op      Op
	Actor   registry.Actor
	Admin   bool
	Reason  string
	Time    time.Time
	Lease   time.Duration // claim and heartbeat
	Outputs []RunInput    // complete
}

// RunStore keeps tracked runs; every method is one transaction.
type RunStore interface {
	CreateRun(ctx context.Context, c RunCreate) (Run, error)
	GetRun(ctx context.Context, id string) (Run, error)
	// Apply makes a change with a conditional write: the run must be in a state the
	// operation may start from, or nothing changes and the answer is a conflict.
	Apply(ctx context.Context, c Change) (Run, error)
	SetArchived(ctx context.Context, id string, archived bool, actor registry.Actor, at time.Time) (Run, error)
	// Reap ends runs whose executor's lease lapsed before now: RUNNING ones in ERROR,
	// CANCELING ones in CANCELED.
	Reap(ctx context.Context, now time.Time) (int, error)
	ListRuns(ctx context.Context, q RunQuery) ([]Run, bool, error)
	// CountRuns counts the runs q's filters match, every page together.
	CountRuns(ctx context.Context, q RunQuery) (int, error)
	DeleteRun(ctx context.Context, id string, actor registry.Actor, reason string, at time.Time) error
	// MergeTags sets (a nil value removes) tags of a run not deleted, in one conditional
	// write; a run left with more than MaxTags tags is refused and nothing changes.
	MergeTags(ctx context.Context, id string, tags map[string]*string, actor registry.Actor, at time.Time) (Run, error)
	PurgeRun(ctx context.Context, id string) error
	// AddArtifact records an uploaded file as an entity the run generated, if the run
	// takes artifacts from this actor (CheckArtifactUpload) and has none of that name.
	AddArtifact(ctx context.Context, a ArtifactCreate) (Artifact, error)
	ListArtifacts(ctx context.Context, runID string) ([]Artifact, error)
	GetArtifact(ctx context.Context, runID, name string) (Artifact, error)
	MetricStore
}

// Runs is the tracked-run service.
type Runs struct {
	Store   RunStore
	Schemas registry.Validator
	IDs     *registry.IDs
	Now     func() time.Time
	Lease   time.Duration // how long a claim or heartbeat holds a run; 5 min by default
	Tokens  Tokens
	// Blobs keeps artifact content; MaxArtifact bounds one artifact (1 GiB by default).
	Blobs       *Blobs
	MaxArtifact int64
}

// List reads one page of runs in a view.
func (s *Runs) List(ctx context.Context, params map[string][]string) (RunPage, error) {
	q, err := s.Tokens.ParseRunQuery(params)
	if err != nil {
		return RunPage{}, err
	}
	view, err := ParseView(first(params["view"]))
	if err != nil {
		return RunPage{}, err
	}
	got, more, err := s.Store.ListRuns(ctx, q)
	if err != nil {
		return RunPage{}, err
	}
	page := RunPage{Runs: make([]Run, len(got))}
	for i, r := range got {
		page.Runs[i] = r.View(view)
	}
	if more {
		page.NextPageToken = s.Tokens.Next(q, got[len(got)-1])
	}
	return page, nil
}

// Count counts the runs a list's filters match, every page together (KFP's total_size);
// its paging parameters are read and checked, and change nothing.
func (s *Runs) Count(ctx context.Context, params map[string][]string) (int, error) {
	q, err := s.Tokens.ParseRunQuery(params)
	if err != nil {
		return 0, err
	}
	return s.Store.CountRuns(ctx, q)
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// Delete invalidates a run in a terminal state (history kept); purge erases it, and only
// an admin may.
func (s *Runs) Delete(ctx context.Context, id string, actor registry.Actor, reason string, purge, admin bool) error {
	if !registry.ValidID(id) {
		return registry.ErrNotFound("run", id)
	}
	if purge {
		if !admin {
			return provgraph.Errorf(provgraph.Forbidden, "purging erases history: only an admin may")
		}
		return s.Store.PurgeRun(ctx, id)
	}
	if len(reason) > 1024 {
		return provgraph.InvalidFields("reason is too long", []provgraph.FieldError{{Path: "reason", Message: "at most 1024 characters"}})
	}
	return s.Store.DeleteRun(ctx, id, actor, reason, s.Now().UTC())
}

// DefaultLease is how long an executor holds a run between heartbeats.
const DefaultLease = 5 * time.Minute

func (s *Runs) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return DefaultLease
}

// Create validates a spec and stores a PENDING run.
func (s *Runs) Create(ctx context.Context, raw []byte, actor registry.Actor, idemKey string) (Run, error) {
	return s.CreateWith(ctx, raw, actor, idemKey, nil)
}

// CreateWith is Create for a run submitted with files already stored in Blobs (by their
// SHA-256, as Blobs.Put answered): the run and an input artifact entity for each file are
// written in one transaction, so the files appear in the run's PROV as entities it used
// from the moment it exists.
func (s *Runs) CreateWith(ctx context.Context, raw []byte, actor registry.Actor, idemKey string, contents []Content) (Run, error) {
	contents, err := s.checkContents(contents)
	if err != nil {
		return Run{}, err
	}
	doc, errs := s.Schemas.Decode("run", raw)
	if len(errs) > 0 {
		return Run{}, provgraph.InvalidFields("the run does not match its schema", errs)
	}
	var spec RunSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return Run{}, provgraph.InvalidFields("the run could not be read", []provgraph.FieldError{{Path: "", Message: err.Error()}})
	}
	compact, err := json.Marshal(doc)
	if err != nil {
		return Run{}, err
	}
	now := s.Now().UTC()
	for i := range contents {
		contents[i].ID = s.IDs.New(now)
	}
	return s.Store.CreateRun(ctx, RunCreate{ID: s.IDs.New(now), Spec: spec, Raw: compact, Actor: actor, Time: now, IdemKey: idemKey, Contents: contents})
}

// checkContents checks the files of a submit: named as artifacts are, each once, each
// present in Blobs.
func (s *Runs) checkContents(in []Content) ([]Content, error) {
	if len(in) == 0 {
		return nil, nil
	}
	if len(in) > MaxContents {
		return nil, provgraph.InvalidFields("too many files", []provgraph.FieldError{{Path: "/contents", Message: fmt.Sprintf("at most %d", MaxContents)}})
	}
	out := slices.Clone(in)
	seen := map[string]bool{}
	for i, c := range out {
		if err := CheckArtifactName(c.Name); err != nil {
			return nil, err
		}
		if seen[c.Name] {
			return nil, provgraph.InvalidFields("a file is named twice", []provgraph.FieldError{{Path: fmt.Sprintf("/contents/%d/name", i), Message: "names are unique"}})
		}
		seen[c.Name] = true
		mt, err := checkMediaType(c.MediaType)
		if err != nil {
			return nil, err
		}
		out[i].MediaType = mt
		if c.Role == "" {
			out[i].Role = "content"
		} else if !contentRole.MatchString(c.Role) {
			return nil, provgraph.InvalidFields("bad role", []provgraph.FieldError{{Path: fmt.Sprintf("/contents/%d/role", i), Message: "a plain name: ^[A-Za-z][A-Za-z0-9_.-]{0,63}$"}})
		}
		if s.Blobs == nil {
			return nil, provgraph.Errorf(provgraph.Internal, "no artifact store to keep files in")
		}
		f, err := s.Blobs.Open(c.SHA256)
		if err != nil {
			return nil, provgraph.Wrap(provgraph.Invalid, err, fmt.Sprintf("file %q is not in the artifact store", c.Name))
		}
		f.Close()
	}
	return out, nil
}

// Get reads a run in a view.
func (s *Runs) Get(ctx context.Context, id, view string) (Run, error) {
	if !registry.ValidID(id) {
		return Run{}, registry.ErrNotFound("run", id)
	}
	r, err := s.Store.GetRun(ctx, id)
	if err != nil {
		return Run{}, err
	}
	return r.View(view), nil
}

// Do applies an operation. Reasons are bounded; outputs only complete a run.
func (s *Runs) Do(ctx context.Context, id string, op Op, actor registry.Actor, admin bool, reason string, outputs []RunInput) (Run, error) {
	if !registry.ValidID(id) {
		return Run{}, registry.ErrNotFound("run", id)
	}
	if len(reason) > 4096 {
		return Run{}, provgraph.InvalidFields("reason is too long", []provgraph.FieldError{{Path: "/reason", Message: "at most 4096 bytes"}})
	}
	if len(outputs) > 0 && op != OpComplete {
		return Run{}, provgraph.InvalidFields("only complete takes outputs", []provgraph.FieldError{{Path: "/outputs", Message: fmt.Sprintf("%s takes no outputs", op)}})
	}
	for i, o := range outputs {
		if !registry.ValidID(o.ID) {
			return Run{}, provgraph.InvalidFields("bad output", []provgraph.FieldError{{Path: fmt.Sprintf("/outputs/%d/id", i), Message: "not a record id"}})
		}
	}
	return s.Store.Apply(ctx, Change{ID: id, Op: op, Actor: actor, Admin: admin, Reason: reason, Time: s.Now().UTC(), Lease: s.lease(), Outputs: outputs})
}

// MaxTags is how many tags a run may have (schemas/json/run.json).
const MaxTags = 64

// tagKey is a tag's name as schemas/json/run.json allows it.
var tagKey = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,128}$`)

// MergeTags merges tags into a run after it was created, whatever its state (tags are
// annotations, not part of the lifecycle): a value sets a tag, nil removes it.
func (s *Runs) MergeTags(ctx context.Context, id string, tags map[string]*string, actor registry.Actor) (Run, error) {
	if !registry.ValidID(id) {
		return Run{}, registry.ErrNotFound("run", id)
	}
	var errs []provgraph.FieldError
	for k, v := range tags {
		switch {
		case !tagKey.MatchString(k):
			errs = append(errs, provgraph.FieldError{Path: "/tags/" + k, Message: "a tag's name matches ^[A-Za-z0-9._/-]{1,128}$"})
		case v != nil && len(*v) > 256:
			errs = append(errs, provgraph.FieldError{Path: "/tags/" + k, Message: "at most 256 characters"})
		}
	}
	if len(tags) > MaxTags {
		errs = append(errs, provgraph.FieldError{Path: "/tags", Message: fmt.Sprintf("at most %d tags", MaxTags)})
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b provgraph.FieldError) int { return strings.Compare(a.Path, b.Path) })
		return Run{}, provgraph.InvalidFields("the tags cannot be set", errs)
	}
	if len(tags) == 0 {
		return s.Get(ctx, id, ViewFull)
	}
	return s.Store.MergeTags(ctx, id, tags, actor, s.Now().UTC())
}

// Archive sets or clears the archived flag (orthogonal to state).
func (s *Runs) Archive(ctx context.Context, id string, archived bool, actor registry.Actor) (Run, error) {
	if !registry.ValidID(id) {
		return Run{}, registry.ErrNotFound("run", id)
	}
	return s.Store.SetArchived(ctx, id, archived, actor, s.Now().UTC())
}

// Reap ends the runs whose lease lapsed; the server calls it periodically.
func (s *Runs) Reap(ctx context.Context) (int, error) {
	return s.Store.Reap(ctx, s.Now().UTC())
}
