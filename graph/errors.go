package graph

import (
	"context"
	"errors"
	"strings"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"provgraph"
)

// A database error is told to the caller as one of three things: a conflict with another
// request (409), the database being away or busy (503 with Retry-After: the caller may
// retry), or our own fault (500, logged). Which one is decided by the Neo4j status code,
// here and nowhere else; a code not named below falls to its classification.
type outcome struct {
	code    provgraph.Code
	message string
}

var (
	busy       = outcome{provgraph.Unavailable, "the database is busy; retry"}
	stopped    = outcome{provgraph.Unavailable, "the database stopped the transaction (an operator, a time limit or a shutdown); retry"}
	timedOut   = outcome{provgraph.Unavailable, "the database did not answer in time; retry"}
	away       = outcome{provgraph.Unavailable, "the database is unavailable; retry"}
	ownFault   = outcome{provgraph.Internal, "database error"}
	raceLost   = outcome{provgraph.Conflict, "the record was changed by another request at the same time; retry"}
	cancelled  = outcome{provgraph.Unavailable, "the request was cancelled or timed out"}
	retryLimit = outcome{provgraph.Unavailable, "the database kept failing for a while; retry later"}
)

// neo4jCodes are the Neo4j status codes provgraph can meet that their classification
// alone would map wrongly, or that deserve their own words.
//
// The driver retries a managed transaction on every TransientError and on the cluster
// codes below; what reaches this table after its retries ran out is 503. Terminated and
// LockClientStopped are ClientErrors since Neo4j 5 (the driver rewrites the 4.x
// TransientError codes to them) precisely so that drivers do not retry them: the
// transaction was stopped by an operator (TERMINATE TRANSACTIONS), by a time limit or by
// a shutdown, and rerunning it would undo the operator's decision. They are not the
// caller's fault either, so they answer 503 and the caller decides.
var neo4jCodes = map[string]outcome{
	"Neo.ClientError.Schema.ConstraintValidationFailed": raceLost,

	"Neo.ClientError.Transaction.Terminated":           stopped,
	"Neo.ClientError.Transaction.LockClientStopped":    stopped,
	"Neo.TransientError.Transaction.Terminated":        stopped, // 4.x spelling
	"Neo.TransientError.Transaction.LockClientStopped": stopped, // 4.x spelling

	"Neo.ClientError.Transaction.TransactionTimedOut":                    timedOut,
	"Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration": timedOut,

	"Neo.ClientError.Cluster.NotALeader":                  away, // a cluster changing leader
	"Neo.ClientError.General.ForbiddenOnReadOnlyDatabase": away, // a write routed to a follower
	"Neo.ClientError.Database.DatabaseNotFound":           away, // stopped or being created
	"Neo.ClientError.Security.AuthorizationExpired":       away, // the driver re-authenticates
	"Neo.ClientError.Security.TokenExpired":               away,
}

// byClass maps what neo4jCodes does not name by the code's classification: a
// TransientError is the database's (busy, out of memory, deadlock, unavailable); a
// ClientError or DatabaseError is a statement of ours the database refused or could not
// run, which valid input must never cause.
var byClass = map[string]outcome{
	"TransientError": busy,
	"ClientError":    ownFault,
	"DatabaseError":  ownFault,
}

// classify is what a caller is told of a Neo4j error.
func classify(nerr *neo4j.Neo4jError) outcome {
	if o, ok := neo4jCodes[nerr.Code]; ok {
		return o
	}
	if parts := strings.Split(nerr.Code, "."); len(parts) == 4 && parts[0] == "Neo" {
		if o, ok := byClass[parts[1]]; ok {
			return o
		}
	}
	return ownFault
}

// translate maps driver errors onto provgraph codes by Neo4j status code, never by text.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var app *provgraph.Error
	if errors.As(err, &app) {
		return app
	}
	o := ownFault
	var nerr *neo4j.Neo4jError
	var limit *neo4j.TransactionExecutionLimit
	var uerr *neo4j.UsageError
	switch {
	case errors.As(err, &nerr):
		o = classify(nerr)
	case errors.As(err, &limit):
		// The driver made every attempt its retry time allows, each failing with an error
		// it deems retryable (transient, connectivity) or with the context ending.
		o = retryLimit
	case neo4j.IsConnectivityError(err):
		o = away
	case errors.As(err, &uerr) && strings.Contains(strings.ToLower(uerr.Message), "connection"):
		o = away // the pool was closed under the request (a shutdown)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		o = cancelled
	}
	return provgraph.Wrap(o.code, err, o.message)
}
