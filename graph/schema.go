package graph

import (
	"context"
	"errors"
	"fmt"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"provgraph/registry"
)

// constraintNames are the constraints readiness waits for.
var constraintNames = []string{"record_id", "revision_id_version", "user_subject", "idempotency_key", "activity_id", "guard_key", "secret_name", "metric_key"}

// indexKeyLimit is the most bytes of UTF-8 one string property may hold and still fit a
// range index's key (measured on Neo4j 5.26: a longer one fails the write with
// Neo.DatabaseError.Statement.ExecutionFailed). Every indexed property the API lets a
// caller set is bounded by its JSON Schema to fit, at four bytes a character; a test
// holds each schema to it.
const indexKeyLimit = 8164

// constraints are created idempotently at start; readiness waits for them.
func constraints() []string {
	stmts := []string{
		"CREATE CONSTRAINT record_id IF NOT EXISTS FOR (r:Record) REQUIRE r.id IS UNIQUE",
		"CREATE CONSTRAINT revision_id_version IF NOT EXISTS FOR (r:Revision) REQUIRE (r.id, r.version) IS UNIQUE",
		"CREATE CONSTRAINT user_subject IF NOT EXISTS FOR (u:User) REQUIRE u.subject IS UNIQUE",
		"CREATE CONSTRAINT idempotency_key IF NOT EXISTS FOR (k:IdempotencyKey) REQUIRE k.key IS UNIQUE",
		"CREATE CONSTRAINT activity_id IF NOT EXISTS FOR (a:Deletion) REQUIRE a.id IS UNIQUE",
		"CREATE CONSTRAINT guard_key IF NOT EXISTS FOR (g:Guard) REQUIRE g.key IS UNIQUE",
		"CREATE CONSTRAINT secret_name IF NOT EXISTS FOR (s:Secret) REQUIRE s.name IS UNIQUE",
		"CREATE CONSTRAINT metric_key IF NOT EXISTS FOR (m:Metric) REQUIRE m.key IS UNIQUE",
		"CREATE INDEX Metric_run_id IF NOT EXISTS FOR (m:Metric) ON (m.run_id)",
		// A modeller acts for an organisation once per run: PROV documents find those
		// edges by run, never by walking every edge of a busy modeller.
		// Tracked runs: lists filter and sort on these; the reaper scans lapsed leases.
		"CREATE INDEX Run_state IF NOT EXISTS FOR (n:Run) ON (n.state)",
		"CREATE INDEX Run_created_at IF NOT EXISTS FOR (n:Run) ON (n.created_at)",
		"CREATE INDEX Run_name IF NOT EXISTS FOR (n:Run) ON (n.name)",
		"CREATE INDEX Run_lease_until IF NOT EXISTS FOR (n:Run) ON (n.lease_until)",
		"CREATE INDEX acted_on_behalf_of_activity IF NOT EXISTS FOR ()-[r:ACTED_ON_BEHALF_OF]-() ON (r.activity)",
		"CREATE INDEX was_attributed_to_activity IF NOT EXISTS FOR ()-[r:WAS_ATTRIBUTED_TO]-() ON (r.activity)",
	}
	for _, l := range indexedLabels() {
		for _, p := range []string{"created_at", "updated_at", "name"} {
			stmts = append(stmts, fmt.Sprintf("CREATE INDEX %s_%s IF NOT EXISTS FOR (n:%s) ON (n.%s)", l, p, label(l), p))
		}
		k, _ := registry.KindByLabel(l)
		for _, f := range k.Filters {
			if f.List {
				// A range index keys a list by the whole list: it never serves the
				// membership test a list filter makes, and a long list overflows its key
				// (indexKeyLimit) and fails the write. Earlier versions made one.
				stmts = append(stmts, fmt.Sprintf("DROP INDEX %s_%s IF EXISTS", l, f.Param))
				continue
			}
			stmts = append(stmts, fmt.Sprintf("CREATE INDEX %s_%s IF NOT EXISTS FOR (n:%s) ON (n.%s)", l, f.Param, label(l), f.Param))
		}
	}
	return stmts
}

// EnsureSchema creates constraints and indexes and waits until they are online.
func (db *DB) EnsureSchema(ctx context.Context) error {
	s := db.session(ctx, neo4j.AccessModeWrite)
	defer s.Close(context.WithoutCancel(ctx))
	// Several servers (or test processes) may start at once on a new database: their
	// schema commands can deadlock, which a managed transaction retries.
	for _, stmt := range constraints() {
		_, err := s.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
			res, err := tx.Run(ctx, stmt, nil)
			if err == nil {
				_, err = res.Consume(ctx)
			}
			return nil, err
		})
		if alreadyThere(err) {
			continue // IF NOT EXISTS does not cover a rule another process created meanwhile
		}
		if err != nil {
			return translate(err)
		}
	}
	res, err := s.Run(ctx, "CALL db.awaitIndexes(120)", nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	return translate(err)
}

// SchemaReady reports whether every constraint and index is online.
func (db *DB) SchemaReady(ctx context.Context) (bool, error) {
	v, err := db.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, `SHOW CONSTRAINTS YIELD name WHERE name IN $names RETURN count(*) AS n`,
			map[string]any{"names": constraintNames})
		if err != nil {
			return false, err
		}
		rec, err := res.Single(ctx)
		if err != nil {
			return false, err
		}
		n, _ := rec.Get("n")
		if n.(int64) != int64(len(constraintNames)) {
			return false, nil
		}
		res, err = tx.Run(ctx, `SHOW INDEXES YIELD state WHERE state <> 'ONLINE' RETURN count(*) AS n`, nil)
		if err != nil {
			return false, err
		}
		rec, err = res.Single(ctx)
		if err != nil {
			return false, err
		}
		n, _ = rec.Get("n")
		return n.(int64) == 0, nil
	})
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

func alreadyThere(err error) bool {
	var nerr *neo4j.Neo4jError
	if !errors.As(err, &nerr) {
		return false
	}
	switch nerr.Code {
	case "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
		"Neo.ClientError.Schema.IndexAlreadyExists",
		"Neo.ClientError.Schema.ConstraintAlreadyExists":
		return true
	}
	return false
}
