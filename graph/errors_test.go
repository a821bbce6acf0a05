package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"provgraph"
)

// TestTranslate walks every class of error the driver can hand back: each Neo4j code the
// table names, one code of each classification it does not, and the driver's own errors.
func TestTranslate(t *testing.T) {
	code := func(c string) error { return &neo4j.Neo4jError{Code: c, Msg: "m"} }
	tests := []struct {
		name string
		err  error
		want provgraph.Code
	}{
		{"a unique constraint lost to a concurrent write", code("Neo.ClientError.Schema.ConstraintValidationFailed"), provgraph.Conflict},
		{"terminated by an operator", code("Neo.ClientError.Transaction.Terminated"), provgraph.Unavailable},
		{"terminated while waiting for a lock", code("Neo.ClientError.Transaction.LockClientStopped"), provgraph.Unavailable},
		{"terminated, 4.x code", code("Neo.TransientError.Transaction.Terminated"), provgraph.Unavailable},
		{"lock client stopped, 4.x code", code("Neo.TransientError.Transaction.LockClientStopped"), provgraph.Unavailable},
		{"server time limit", code("Neo.ClientError.Transaction.TransactionTimedOut"), provgraph.Unavailable},
		{"client time limit", code("Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration"), provgraph.Unavailable},
		{"cluster leader moved", code("Neo.ClientError.Cluster.NotALeader"), provgraph.Unavailable},
		{"write on a follower", code("Neo.ClientError.General.ForbiddenOnReadOnlyDatabase"), provgraph.Unavailable},
		{"database stopped", code("Neo.ClientError.Database.DatabaseNotFound"), provgraph.Unavailable},
		{"credentials expiring", code("Neo.ClientError.Security.AuthorizationExpired"), provgraph.Unavailable},
		{"deadlock", code("Neo.TransientError.Transaction.DeadlockDetected"), provgraph.Unavailable},
		{"lock wait too long", code("Neo.TransientError.Transaction.LockAcquisitionTimeout"), provgraph.Unavailable},
		{"memory pool full", code("Neo.TransientError.General.MemoryPoolOutOfMemoryError"), provgraph.Unavailable},
		{"database unavailable", code("Neo.TransientError.General.DatabaseUnavailable"), provgraph.Unavailable},
		{"a transient code no one has seen yet", code("Neo.TransientError.Future.Anything"), provgraph.Unavailable},
		{"our statement is wrong", code("Neo.ClientError.Statement.SyntaxError"), provgraph.Internal},
		{"our statement failed to run", code("Neo.DatabaseError.Statement.ExecutionFailed"), provgraph.Internal},
		{"the server's credentials are refused", code("Neo.ClientError.Security.Unauthorized"), provgraph.Internal},
		{"not a Neo4j code", code("Something.Else"), provgraph.Internal},
		{"wrapped", fmt.Errorf("reading: %w", code("Neo.ClientError.Transaction.Terminated")), provgraph.Unavailable},
		{"retries ran out on a transient error", &neo4j.TransactionExecutionLimit{Cause: "timeout (exceeded max retry time: 5s)",
			Errors: []error{code("Neo.TransientError.Transaction.DeadlockDetected"), code("Neo.TransientError.Transaction.DeadlockDetected")}}, provgraph.Unavailable},
		{"retries ran out on dead connections", &neo4j.TransactionExecutionLimit{Cause: "too many failed connection attempts",
			Errors: []error{&neo4j.ConnectivityError{Inner: io.EOF}}}, provgraph.Unavailable},
		{"connection lost", &neo4j.ConnectivityError{Inner: &net.OpError{Op: "read", Err: errors.New("reset")}}, provgraph.Unavailable},
		{"request cancelled", context.Canceled, provgraph.Unavailable},
		{"request deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), provgraph.Unavailable},
		{"an application error passes through", provgraph.Errorf(provgraph.NotFound, "no"), provgraph.NotFound},
		{"anything else is ours", errors.New("boom"), provgraph.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := translate(tt.err)
			if c := provgraph.ErrorCode(got); c != tt.want {
				t.Errorf("translate(%v) = %s (%v), want %s", tt.err, c, got, tt.want)
			}
		})
	}
}

// TestDriverRetries pins the driver's own rules that the table relies on: it retries
// transient and cluster errors and not a stopped transaction, whose 4.x TransientError
// codes it rewrites to the 5.x ClientError ones. A driver upgrade that changes this shows
// here.
func TestDriverRetries(t *testing.T) {
	for code, want := range map[string]bool{
		"Neo.TransientError.Transaction.DeadlockDetected":   true,
		"Neo.TransientError.General.DatabaseUnavailable":    true,
		"Neo.ClientError.Cluster.NotALeader":                true,
		"Neo.ClientError.Transaction.Terminated":            false,
		"Neo.ClientError.Transaction.LockClientStopped":     false,
		"Neo.TransientError.Transaction.Terminated":         false,
		"Neo.TransientError.Transaction.LockClientStopped":  false,
		"Neo.ClientError.Transaction.TransactionTimedOut":   false,
		"Neo.ClientError.Schema.ConstraintValidationFailed": false,
	} {
		if got := neo4j.IsRetryable(&neo4j.Neo4jError{Code: code}); got != want {
			t.Errorf("the driver retries %s: %v, want %v", code, got, want)
		}
	}
}

// TestTerminatedTransactionIsUnavailable stops a real transaction the way an operator
// does, with TERMINATE TRANSACTIONS from another session, while it waits for a lock: the
// caller is told the database is unavailable (503), not that the server failed.
func TestTerminatedTransactionIsUnavailable(t *testing.T) {
	db := MustDB(t)
	id := testPrefix(t) + "-terminate"
	if _, err := db.write(t.Context(), queryOne(`CREATE (n:TermProbe {id:$id}) RETURN count(*)`, map[string]any{"id": id})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.write(context.Background(), queryOne(`MATCH (n:TermProbe {id:$id}) DELETE n RETURN count(*)`, map[string]any{"id": id}))
	})
	// A transaction of the test's own holds the node's lock until the end.
	holder := db.session(t.Context(), neo4j.AccessModeWrite)
	defer holder.Close(context.Background())
	htx, err := holder.BeginTransaction(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer htx.Rollback(context.Background())
	if _, err := htx.Run(t.Context(), `MATCH (n:TermProbe {id:$id}) SET n.x = 1`, map[string]any{"id": id}); err != nil {
		t.Fatal(err)
	}
	marker := "terminate-me-" + id
	done := make(chan error, 1)
	go func() {
		_, err := db.write(t.Context(), queryOne(`MATCH (n:TermProbe {id:$id}) SET n.x = 2 RETURN $marker`, map[string]any{"id": id, "marker": marker}))
		done <- err
	}()
	terminated := 0
	for deadline := time.Now().Add(20 * time.Second); terminated == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		v, err := db.read(t.Context(), func(tx neo4j.ManagedTransaction) (any, error) {
			res, err := tx.Run(t.Context(), `SHOW TRANSACTIONS YIELD transactionId, currentQuery, parameters
				WHERE parameters.marker = $marker RETURN collect(transactionId)`, map[string]any{"marker": marker})
			if err != nil {
				return nil, err
			}
			rec, err := res.Single(t.Context())
			if err != nil {
				return nil, err
			}
			return rec.Values[0], nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ids := v.([]any)
		if len(ids) == 0 {
			continue
		}
		s := db.session(t.Context(), neo4j.AccessModeWrite)
		res, err := s.Run(t.Context(), `TERMINATE TRANSACTIONS $ids`, map[string]any{"ids": ids})
		if err == nil {
			_, err = res.Consume(t.Context())
		}
		s.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		terminated = len(ids)
	}
	if terminated == 0 {
		t.Fatal("the waiting transaction never showed in SHOW TRANSACTIONS")
	}
	select {
	case err := <-done:
		var nerr *neo4j.Neo4jError
		if !errors.As(err, &nerr) {
			t.Fatalf("want a Neo4j error underneath, got %v", err)
		}
		if got := provgraph.ErrorCode(err); got != provgraph.Unavailable {
			t.Fatalf("a terminated transaction is %s (%v), want %s", got, err, provgraph.Unavailable)
		}
		t.Logf("%s: %v", nerr.Code, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the terminated transaction did not end")
	}
}
