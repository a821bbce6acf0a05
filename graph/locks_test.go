package graph

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Why registrations lock guards: Neo4j does not lock a node while a relationship to it
// is being created, so a delete (which locks the record, then looks for dependents) would
// neither wait for a registration naming the record nor be seen by it. This holds Neo4j
// to that, for a record with few relationships and for one past the dense-node threshold
// (a workflow template every run names); should it ever fail, the guards could go.
func TestRelationshipCreationDoesNotLockItsEnds(t *testing.T) {
	db := MustDB(t)
	p := testPrefix(t)
	for _, c := range []struct {
		name string
		rels int // relationships the record has already
	}{{"sparse", 2}, {"dense", 120}} {
		t.Run(c.name, func(t *testing.T) {
			id := p + "-" + c.name
			if _, err := db.write(t.Context(), queryOne(`
				CREATE (x:Record {id:$id})
				WITH x UNWIND range(1, $n) AS i
				CREATE (:LockProbe {id:$id})-[:USED]->(x)
				RETURN count(*)`, map[string]any{"id": id, "n": c.rels})); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				db.write(context.Background(), queryOne(`MATCH (n {id:$id}) DETACH DELETE n RETURN count(*)`, map[string]any{"id": id}))
			})
			link := `MATCH (x:Record {id:$id}) CREATE (:LockProbe {id:$id})-[:USED]->(x)`
			lock := `MATCH (x:Record {id:$id}) SET x.locked_ = true REMOVE x.locked_`
			if !secondWaits(t, db, lock, lock, id) {
				t.Fatalf("the probe is broken: one lock did not wait for another")
			}
			if secondWaits(t, db, link, lock, id) || secondWaits(t, db, lock, link, id) {
				t.Errorf("a relationship being created now locks its end: a registration could rely on that instead of guards")
			}
		})
	}
}

// secondWaits runs first in an open transaction, then second in another with a short
// timeout, and says whether second had to wait for first's locks.
func secondWaits(t *testing.T, db *DB, first, second, id string) bool {
	t.Helper()
	ctx := t.Context()
	s1 := db.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: db.database})
	defer s1.Close(context.Background())
	tx1, err := s1.BeginTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(context.Background())
	res1, err := tx1.Run(ctx, first, map[string]any{"id": id})
	if err == nil {
		_, err = res1.Consume(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	s2 := db.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: db.database})
	defer s2.Close(context.Background())
	tx2, err := s2.BeginTransaction(ctx, neo4j.WithTxTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Rollback(context.Background())
	res, err := tx2.Run(ctx, second, map[string]any{"id": id})
	if err == nil {
		_, err = res.Consume(ctx)
	}
	if err == nil {
		return false
	}
	var ne *neo4j.Neo4jError
	if errors.As(err, &ne) && (ne.Code == "Neo.ClientError.Transaction.TransactionTimedOut" ||
		ne.Code == "Neo.ClientError.Transaction.LockClientStopped" || ne.Code == "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration") {
		return true
	}
	t.Fatal(fmt.Errorf("second statement: %w", err))
	return false
}
