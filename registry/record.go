package registry

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"provgraph"
)

// Record is one version of a registered record.
type Record struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	Version   int             `json:"version"`
	Name      string          `json:"name"`
	Record    json.RawMessage `json:"record"`
	CreatedAt time.Time       `json:"created_at"`
	CreatedBy string          `json:"created_by"`
	// UpdatedAt and UpdatedBy are this version's time and author.
	UpdatedAt time.Time  `json:"updated_at"`
	UpdatedBy string     `json:"updated_by"`
	Reason    string     `json:"reason,omitempty"`
	Latest    bool       `json:"latest"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
	// ProvJSON is the PROV-JSON a model run was registered with (Provena keeps one too);
	// it is read with single records, not lists.
	ProvJSON json.RawMessage `json:"prov_json,omitempty"`
	// Links are where to find the record and its PROV document (set by the HTTP layer).
	Links map[string]string `json:"links,omitempty"`
}

// Actor is whoever performs a write: it becomes a PROV agent in the graph.
type Actor struct {
	Subject string
	Name    string
	// Viewer is what the actor may read: a write may name only records it can see.
	Viewer Viewer
}

// Write is a validated document ready to be stored.
type Write struct {
	Kind    Kind
	ID      string // minted before the transaction so a retried transaction is idempotent
	Raw     json.RawMessage
	Doc     map[string]any
	Actor   Actor
	Time    time.Time
	Reason  string // updates only
	IdemKey string // optional Idempotency-Key of a create
	// Found are the violations of the kind's rules: a write with any still has its
	// references checked, so that one answer reports every violation, and is never made.
	Found []provgraph.FieldError
}

// Dependent names a record that depends on another.
type Dependent struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Relation string `json:"relation"`
}

// Store keeps records. Every method is one transaction.
type Store interface {
	Create(ctx context.Context, w Write) (Record, error)
	Update(ctx context.Context, w Write) (Record, error)
	// Reads answer only what the viewer may read: any other record is not found.
	Get(ctx context.Context, k Kind, id string, version int, v Viewer) (Record, error)
	List(ctx context.Context, q ListQuery) (Page, error)
	History(ctx context.Context, k Kind, id string, v Viewer) ([]Record, error)
	Delete(ctx context.Context, k Kind, id string, actor Actor, reason string, at time.Time) error
}

// IDs mints server-side identifiers: <prefix>/<ULID>, unique and sortable by time.
type IDs struct {
	prefix  string
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
}

// NewIDs returns a minter for prefix (no trailing slash).
func NewIDs(prefix string) *IDs {
	return &IDs{prefix: strings.TrimSuffix(prefix, "/"), entropy: ulid.Monotonic(rand.Reader, 0)}
}

// New mints one id.
func (g *IDs) New(at time.Time) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	id := ulid.MustNew(ulid.Timestamp(at), g.entropy)
	if g.prefix == "" {
		return id.String()
	}
	return g.prefix + "/" + id.String()
}

// ValidID reports whether s has the shape of an id this server mints, with any prefix:
// ids reach Cypher only as parameters, but a clear 404 beats a lookup of garbage.
func ValidID(s string) bool {
	if len(s) < 26 || len(s) > 256 {
		return false
	}
	tail := s[len(s)-26:]
	if _, err := ulid.ParseStrict(tail); err != nil {
		return false
	}
	head := s[:len(s)-26]
	if head == "" {
		return true
	}
	if !strings.HasSuffix(head, "/") {
		return false
	}
	for _, r := range head {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("./-_", r)) {
			return false
		}
	}
	return true
}

// ErrNotFound is the error for an unknown record.
func ErrNotFound(kind, id string) error {
	return provgraph.Errorf(provgraph.NotFound, "no %s with id %q", kind, id)
}
