package main

import (
	"context"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// TestTerminatedRequestIsUnavailable: an update waiting for a lock is stopped by an
// operator (TERMINATE TRANSACTIONS from another session); its caller gets 503 with
// Retry-After, the database's fault and not the server's, and may retry.
func TestTerminatedRequestIsUnavailable(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	id := c.mustCreate("studies", map[string]any{"title": "locked", "description": "d"})

	driver, err := neo4j.NewDriverWithContext(neo4jURI(), neo4j.NoAuth())
	if err != nil {
		t.Fatal(err)
	}
	defer driver.Close(context.Background())
	holder := driver.NewSession(t.Context(), neo4j.SessionConfig{DatabaseName: m.Config.Neo4jDatabase})
	defer holder.Close(context.Background())
	tx, err := holder.BeginTransaction(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Run(t.Context(), `MATCH (n:Record {id:$id}) SET n.held_ = true`, map[string]any{"id": id}); err != nil {
		t.Fatal(err)
	}

	reason := "terminate-me-" + randomHex(6)
	done := make(chan response, 1)
	go func() {
		done <- c.do("PUT", "/api/v1/studies/"+id+"?reason="+reason, map[string]any{"title": "changed", "description": "d"})
	}()
	terminated := false
	for deadline := time.Now().Add(20 * time.Second); !terminated && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		res, err := neo4j.ExecuteQuery(t.Context(), driver, `
			SHOW TRANSACTIONS YIELD transactionId, parameters, status
			WHERE parameters.reason = $reason AND status STARTS WITH 'Blocked'
			RETURN collect(transactionId) AS ids`, map[string]any{"reason": reason},
			neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(m.Config.Neo4jDatabase))
		if err != nil {
			t.Fatal(err)
		}
		ids := res.Records[0].Values[0].([]any)
		if len(ids) == 0 {
			continue
		}
		if _, err := neo4j.ExecuteQuery(t.Context(), driver, `TERMINATE TRANSACTIONS $ids`, map[string]any{"ids": ids},
			neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(m.Config.Neo4jDatabase)); err != nil {
			t.Fatal(err)
		}
		terminated = true
	}
	if !terminated {
		t.Fatal("the update never waited for the lock")
	}
	select {
	case r := <-done:
		if r.Status != 503 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("a terminated update: %d %s, want 503 with Retry-After", r.Status, r.Body)
		}
		if code, _ := r.JSON(t)["error"].(map[string]any)["code"].(string); code != "unavailable" {
			t.Fatalf("code %q, want unavailable", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the terminated update did not answer")
	}
}
