package graph

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"provgraph"
	"provgraph/cypher"
	"provgraph/registry"
)

// ReadCypher runs a user's query in a read transaction the database ends after timeout,
// and reads at most maxRows rows. The query is first planned with EXPLAIN in the same
// transaction, and runs only if cypher.Judge finds the plan reads the graph and nothing
// else. It runs on the users' own small pool, and is not retried: a user's query is
// theirs to resend.
func (db *DB) ReadCypher(ctx context.Context, query string, params map[string]any, timeout time.Duration, maxRows int, who registry.Viewer) (cypher.Rows, error) {
	s := db.cypher.NewSession(ctx, neo4j.SessionConfig{DatabaseName: db.database, AccessMode: neo4j.AccessModeRead})
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
	if err := db.judge(ctx, tx, query, params); err != nil {
		return fail(err)
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
			row[k] = cypher.Finite(plain(res.Record().Values[i]))
		}
		out.Rows = append(out.Rows, row)
	}
	if err := res.Err(); err != nil {
		return fail(err)
	}
	return out, nil
}

const explain = "EXPLAIN "

// judge plans the query with EXPLAIN, which runs nothing, and lets cypher.Judge decide on
// what Neo4j's own parser and planner made of it.
func (db *DB) judge(ctx context.Context, tx neo4j.ExplicitTransaction, query string, params map[string]any) error {
	res, err := tx.Run(ctx, explain+query, params)
	if err != nil {
		return err
	}
	sum, err := res.Consume(ctx)
	if err != nil {
		return err
	}
	if sum.Plan() == nil {
		return provgraph.Errorf(provgraph.Forbidden, "Neo4j gave no plan for this query, so it cannot be shown to only read the graph")
	}
	database := db.database
	if database == "" {
		database = "neo4j"
	}
	return cypher.Judge(statementKind(sum.StatementType()), planOf(sum.Plan()), database)
}

func statementKind(t neo4j.StatementType) cypher.Kind {
	switch t {
	case neo4j.StatementTypeReadOnly:
		return cypher.ReadOnly
	case neo4j.StatementTypeReadWrite:
		return cypher.ReadWrite
	case neo4j.StatementTypeWriteOnly:
		return cypher.WriteOnly
	case neo4j.StatementTypeSchemaWrite:
		return cypher.SchemaWrite
	}
	return cypher.Unknown
}

// planOf copies the driver's plan; Neo4j names operators "Operator@database".
func planOf(p neo4j.Plan) cypher.Plan {
	op, database, _ := strings.Cut(p.Operator(), "@")
	details, _ := p.Arguments()["Details"].(string)
	out := cypher.Plan{Operator: op, Database: database, Details: details}
	for _, c := range p.Children() {
		out.Children = append(out.Children, planOf(c))
	}
	return out
}

// errCypherHides refuses Cypher to a caller who may not read every record: Neo4j
// Community cannot hide records from a query, so a query would read them all.
var errCypherHides = provgraph.Errorf(provgraph.Forbidden,
	"some records are restricted to groups you are not in, and Cypher reads the whole graph: it is open only to those who may read every record; use the lineage and record routes, which leave out what you may not read")

var (
	errTimeLimit   = provgraph.Errorf(provgraph.Invalid, "the query ran longer than its time limit and was stopped")
	errMemoryLimit = provgraph.Errorf(provgraph.Invalid, "the query needed more memory than one transaction may use and was stopped; narrow it or aggregate sooner")
)

// memoryLimit says whether code is Neo4j's refusal of a transaction over its memory
// limit (db.memory.transaction.max), or of one that would take the last of the memory all
// transactions share. Neo4j calls the second transient; for a user's query it is the
// query's size, and the same query would fail the same way again.
func memoryLimit(code string) bool {
	return code == "Neo.ClientError.General.TransactionOutOfMemoryError" || code == "Neo.TransientError.General.MemoryPoolOutOfMemoryError"
}

// userCypherError says what the database refused, in its own words for mistakes in the
// query (those are the user's), and maps the rest as every other database error.
func userCypherError(err error) error {
	var nerr *neo4j.Neo4jError
	if errors.As(err, &nerr) {
		switch {
		case nerr.Code == "Neo.ClientError.Transaction.TransactionTimedOut" || nerr.Code == "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration":
			return errTimeLimit
		case memoryLimit(nerr.Code):
			return errMemoryLimit
		case nerr.Code == "Neo.ClientError.Statement.UnsupportedAdministrationCommand" || strings.HasPrefix(nerr.Code, "Neo.ClientError.Security."):
			return &provgraph.Error{Code: provgraph.Forbidden, Message: "this query is not allowed: administration is not allowed",
				Fields: []provgraph.FieldError{{Path: "/query", Message: nerr.Code + ": " + unexplained(nerr.Msg)}}}
		case nerr.Classification() == "ClientError":
			return provgraph.InvalidFields("Neo4j refused the query", []provgraph.FieldError{{Path: "/query", Message: nerr.Code + ": " + unexplained(nerr.Msg)}})
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errTimeLimit
	}
	return translate(err)
}

// explainedAt finds where Neo4j points into the query it planned, which had "EXPLAIN "
// before the user's text.
var explainedAt = regexp.MustCompile(`\(line 1, column (\d+) \(offset: (\d+)\)\)`)

// unexplained words Neo4j's message about the planned query as about the user's own.
func unexplained(msg string) string {
	if !strings.Contains(msg, `"`+explain) {
		return msg
	}
	msg = strings.Replace(msg, `"`+explain, `"`, 1)
	lines := strings.Split(msg, "\n")
	for i, l := range lines { // the caret under the quoted query
		if strings.TrimLeft(l, " ") == "^" && len(l) > len(explain) {
			lines[i] = l[len(explain):]
		}
	}
	msg = strings.Join(lines, "\n")
	return explainedAt.ReplaceAllStringFunc(msg, func(m string) string {
		n := explainedAt.FindStringSubmatch(m)
		col, _ := strconv.Atoi(n[1])
		off, _ := strconv.Atoi(n[2])
		return fmt.Sprintf("(line 1, column %d (offset: %d))", col-len(explain), off-len(explain))
	})
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
