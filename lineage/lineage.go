// Package lineage holds what lineage questions are and how their answers are drawn:
// parsing a query, the result shape, Graphviz DOT and an indented tree. It knows nothing
// of Neo4j or HTTP.
package lineage

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"provgraph"
	"provgraph/registry"
)

// Direction is which way lineage is followed: upstream follows the PROV arrows out (what
// something came from), downstream follows them in (what it went into).
type Direction string

// The directions.
const (
	Upstream   Direction = "upstream"
	Downstream Direction = "downstream"
	Both       Direction = "both"
)

// Bounds of a query.
const (
	DefaultDepth = 3
	DefaultLimit = 500
	MaxLimit     = 10000
)

// Query is one lineage question about one record.
type Query struct {
	ID            string
	Direction     Direction
	Depth         int
	Kinds         []string // kind labels to return; empty for all (traversal is not limited)
	IncludeAgents bool
	Versions      bool // follow superseded versions too
	// IncludeInvalidated walks deleted records too: they are history, not lineage, and
	// are left out (neither returned nor walked through) unless asked for.
	IncludeInvalidated bool
	Limit              int // nodes at most; the result says when it was cut
	// Viewer bounds the walk: a record it may not read is neither returned nor walked
	// through, and a root it may not read is not found.
	Viewer registry.Viewer
}

// ParseQuery reads a query's parameters; maxDepth is the configured bound of depth.
// A depth out of range is a 422 (the caller asked for something we will not do); other
// malformed parameters are 400.
func ParseQuery(id string, params map[string][]string, maxDepth int) (Query, error) {
	q := Query{ID: id, Direction: Upstream, Depth: DefaultDepth, Limit: DefaultLimit}
	var bad, tooDeep []provgraph.FieldError
	for key, vals := range params {
		if len(vals) != 1 {
			bad = append(bad, provgraph.FieldError{Path: key, Message: "give this parameter once"})
			continue
		}
		v := vals[0]
		switch key {
		case "direction":
			switch d := Direction(strings.ToLower(v)); d {
			case Upstream, Downstream, Both:
				q.Direction = d
			default:
				bad = append(bad, provgraph.FieldError{Path: key, Message: "must be upstream, downstream or both"})
			}
		case "depth":
			n, err := strconv.Atoi(v)
			switch {
			case err != nil:
				bad = append(bad, provgraph.FieldError{Path: key, Message: "must be a whole number"})
			case n < 1 || n > maxDepth:
				tooDeep = append(tooDeep, provgraph.FieldError{Path: key, Message: fmt.Sprintf("must be 1 to %d", maxDepth)})
			default:
				q.Depth = n
			}
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxLimit {
				bad = append(bad, provgraph.FieldError{Path: key, Message: fmt.Sprintf("must be a whole number from 1 to %d", MaxLimit)})
				continue
			}
			q.Limit = n
		case "kinds":
			for _, k := range strings.Split(v, ",") {
				if k = strings.TrimSpace(k); k != "" {
					if !isLabel(k) {
						bad = append(bad, provgraph.FieldError{Path: key, Message: fmt.Sprintf("%q is not a kind", k)})
						continue
					}
					q.Kinds = append(q.Kinds, k)
				}
			}
		case "include_agents", "versions", "include_invalidated":
			b, err := strconv.ParseBool(v)
			if err != nil {
				bad = append(bad, provgraph.FieldError{Path: key, Message: "must be true or false"})
				continue
			}
			switch key {
			case "versions":
				q.Versions = b
			case "include_invalidated":
				q.IncludeInvalidated = b
			default:
				q.IncludeAgents = b
			}
		case "format":
		default:
			bad = append(bad, provgraph.FieldError{Path: key, Message: "unknown parameter"})
		}
	}
	sortFields := func(fs []provgraph.FieldError) {
		slices.SortFunc(fs, func(a, b provgraph.FieldError) int { return strings.Compare(a.Path, b.Path) })
	}
	if len(bad) > 0 {
		sortFields(bad)
		return q, &provgraph.Error{Code: provgraph.Invalid, Status: 400, Message: "invalid lineage parameters", Fields: bad}
	}
	if len(tooDeep) > 0 {
		return q, provgraph.InvalidFields("depth out of range", tooDeep)
	}
	slices.Sort(q.Kinds)
	q.Kinds = slices.Compact(q.Kinds)
	return q, nil
}

func isLabel(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return s != ""
}

// Node is one record reached.
type Node struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	Name      string     `json:"name,omitempty"`
	Version   int        `json:"version,omitempty"`
	State     string     `json:"state,omitempty"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	// InvalidatedAt is when the record was deleted; only include_invalidated reaches one.
	InvalidatedAt *time.Time `json:"invalidated_at,omitempty"`
	Depth         int        `json:"depth"` // hops from the record asked about
}

// Edge is one relationship between two nodes of the result, pointing the PROV way.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Type string `json:"type"`
	Role string `json:"role,omitempty"`
}

// Result is the answer to a lineage query.
type Result struct {
	Root      string `json:"root"`
	Direction string `json:"direction"`
	Depth     int    `json:"depth"`
	Nodes     []Node `json:"nodes"`
	Edges     []Edge `json:"edges"`
	Truncated bool   `json:"truncated"`
}
