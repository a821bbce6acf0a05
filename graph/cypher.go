package graph

import (
	"context"
	"errors"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"provgraph"
	"provgraph/cypher"
	"provgraph/registry"
)

// ReadCypher runs a user's query in a read transaction the database ends after timeout,
// and reads at most maxRows rows. It is not retried: a user's query is theirs to resend.
func (db *DB) ReadCypher(ctx context.Context, query string, params map[string]any, timeout time.Duration, maxRows int, who registry.Viewer) (cypher.Rows, error) {
	s := db.session(ctx, neo4j.AccessModeRead)
	defer s.Close(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, timeout+2*time.Second) // the database's timeout first
	defer cancel()
	// Our own deadline passing is the time limit too, however the driver words it: on a
	// loaded machine it can come before the database's.
	fail := func(err error) (cypher.Rows, error) {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return cypher.Rows{}, errTimeLimit
		}
		return cypher.Rows{}, userCypherError(err)
	}
	tx, err := s.BeginTransaction(ctx, neo4j.WithTxTimeout(timeout), neo4j.WithTxMetadata(map[string]any{"app": "provgraph", "kind": "user-cypher"}))
	if err != nil {
		return fail(err)
	}
	defer tx.Close(context.WithoutCancel(ctx))
	if hidden, err := hiddenFrom(ctx, tx, who); err != nil {
		return fail(err)
	} else if hidden {
		return cypher.Rows{}, errCypherHides
	}
	res, err := tx.Run(ctx, query, params)
	if err != nil {
		return fail(err)
	}
	keys, err := res.Keys()
	if err != nil {
		return fail(err)
	}
	out := cypher.Rows{Columns: keys, Rows: []map[string]any{}}
	for res.Next(ctx) {
		if len(out.Rows) == maxRows {
			out.Truncated = true
			break
		}
		row := map[string]any{}
		for i, k := range keys {
			row[k] = plain(res.Record().Values[i])
		}
		out.Rows = append(out.Rows, row)
	}
	if err := res.Err(); err != nil {
		return fail(err)
	}
	return out, nil
}

// errCypherHides refuses Cypher to a caller who may not read every record: Neo4j
// Community cannot hide records from a query, so a query would read them all.
var errCypherHides = provgraph.Errorf(provgraph.Forbidden,
	"some records are restricted to groups you are not in, and Cypher reads the whole graph: it is open only to those who may read every record; use the lineage and record routes, which leave out what you may not read")

var errTimeLimit = provgraph.Errorf(provgraph.Invalid, "the query ran longer than its time limit and was stopped")

// userCypherError says what the database refused, in its own words for mistakes in the
// query (those are the user's), and maps the rest as every other database error.
func userCypherError(err error) error {
	var nerr *neo4j.Neo4jError
	if errors.As(err, &nerr) {
		switch {
		case nerr.Code == "Neo.ClientError.Transaction.TransactionTimedOut" || nerr.Code == "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration":
			return errTimeLimit
		case nerr.Classification() == "ClientError":
			return provgraph.InvalidFields("Neo4j refused the query", []provgraph.FieldError{{Path: "/query", Message: nerr.Code + ": " + nerr.Msg}})
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errTimeLimit
	}
	return translate(err)
}

// plain renders driver values as JSON-friendly values: nodes and relationships as
// objects, times as RFC 3339.
func plain(v any) any {
	switch x := v.(type) {
	case dbtype.Node:
		return map[string]any{"element_id": x.ElementId, "labels": x.Labels, "properties": plainMap(x.Props)}
	case dbtype.Relationship:
		return map[string]any{"element_id": x.ElementId, "type": x.Type, "start": x.StartElementId, "end": x.EndElementId, "properties": plainMap(x.Props)}
	case dbtype.Path:
		nodes := make([]any, len(x.Nodes))
		for i, n := range x.Nodes {
			nodes[i] = plain(n)
		}
		rels := make([]any, len(x.Relationships))
		for i, r := range x.Relationships {
			rels[i] = plain(r)
		}
		return map[string]any{"nodes": nodes, "relationships": rels}
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case map[string]any:
		return plainMap(x)
	case dbtype.Date, dbtype.LocalDateTime, dbtype.LocalTime, dbtype.Time, dbtype.Duration, dbtype.Point2D, dbtype.Point3D:
		return x.(interface{ String() string }).String()
	}
	return v
}

func plainMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k == "locked_" {
			continue
		}
		out[k] = plain(v)
	}
	return out
}
