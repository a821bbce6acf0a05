// Package graph stores provgraph's records in Neo4j and implements the domain services'
// storage interfaces. Every service method is one transaction; Neo4j errors are
// translated here, by their codes, into provgraph errors.
package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	"provgraph/registry"
)

// Config locates the database.
type Config struct {
	URI      string
	User     string
	Password string
	Database string
	// NoRetry makes a transient error, such as a deadlock Neo4j broke, fail at once
	// instead of being retried: tests use it to see such errors.
	NoRetry bool
	// CypherPool bounds the connections users' own Cypher may hold (default 4). They
	// come from a driver of their own, so users' queries can never take the
	// connections that registrations need.
	CypherPool int
}

// DB is a connection pool to one Neo4j database, and a small one beside it for users'
// Cypher.
type DB struct {
	driver   neo4j.DriverWithContext
	cypher   neo4j.DriverWithContext
	database string
}

// Open connects to Neo4j and checks that it answers, waiting at most until ctx ends.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	auth := neo4j.NoAuth()
	if cfg.User != "" {
		auth = neo4j.BasicAuth(cfg.User, cfg.Password, "")
	}
	driver, err := neo4j.NewDriverWithContext(cfg.URI, auth, func(c *config.Config) {
		// Fail fast while the database is away: callers get 503 and retry, rather than
		// holding connections for the driver's default 30 s of retries.
		c.MaxTransactionRetryTime = 5 * time.Second
		if cfg.NoRetry {
			c.MaxTransactionRetryTime = 0
		}
		c.ConnectionAcquisitionTimeout = 5 * time.Second
		c.SocketConnectTimeout = 2 * time.Second
		c.MaxConnectionPoolSize = 100
	})
	if err != nil {
		return nil, fmt.Errorf("neo4j %s: %w", cfg.URI, err)
	}
	if cfg.CypherPool <= 0 {
		cfg.CypherPool = 4
	}
	// Users' queries are never retried (they are the user's to resend), and wait only
	// briefly for a connection: the server's own limit should have kept them in bounds.
	cypher, err := neo4j.NewDriverWithContext(cfg.URI, auth, func(c *config.Config) {
		c.MaxTransactionRetryTime = 0
		c.ConnectionAcquisitionTimeout = 2 * time.Second
		c.SocketConnectTimeout = 2 * time.Second
		c.MaxConnectionPoolSize = cfg.CypherPool
	})
	if err != nil {
		driver.Close(context.Background())
		return nil, fmt.Errorf("neo4j %s: %w", cfg.URI, err)
	}
	db := &DB{driver: driver, cypher: cypher, database: cfg.Database}
	for {
		err = driver.VerifyConnectivity(ctx)
		if err == nil {
			// The driver sets up its connector on its first connection without a lock, so
			// the users' driver makes that connection here, alone, before requests race
			// to make it (the race detector caught two first queries doing so).
			err = cypher.VerifyConnectivity(ctx)
		}
		if err == nil {
			return db, nil
		}
		select {
		case <-ctx.Done():
			driver.Close(context.Background())
			cypher.Close(context.Background())
			return nil, fmt.Errorf("neo4j at %s is not reachable: %w", cfg.URI, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Close releases the pools.
func (db *DB) Close(ctx context.Context) error {
	return errors.Join(db.driver.Close(ctx), db.cypher.Close(ctx))
}

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	_, err := db.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, "RETURN 1", nil)
		if err != nil {
			return nil, err
		}
		_, err = res.Single(ctx)
		return nil, err
	})
	return err
}

func (db *DB) session(ctx context.Context, mode neo4j.AccessMode) neo4j.SessionWithContext {
	return db.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: db.database, AccessMode: mode})
}

func (db *DB) write(ctx context.Context, work neo4j.ManagedTransactionWork) (any, error) {
	s := db.session(ctx, neo4j.AccessModeWrite)
	defer s.Close(context.WithoutCancel(ctx))
	v, err := s.ExecuteWrite(ctx, work)
	return v, translate(err)
}

func (db *DB) read(ctx context.Context, work neo4j.ManagedTransactionWork) (any, error) {
	s := db.session(ctx, neo4j.AccessModeRead)
	defer s.Close(context.WithoutCancel(ctx))
	v, err := s.ExecuteRead(ctx, work)
	return v, translate(err)
}

// Labels from our closed set are written into Cypher text (Neo4j cannot parameterise
// labels in 5.x); this guard keeps anything else out.
func label(s string) string {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			panic("graph: not a label: " + s)
		}
	}
	return s
}

func labels(ls []string) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteByte(':')
		b.WriteString(label(l))
	}
	return b.String()
}

// indexedLabels are the kind labels lists sort and filter on.
func indexedLabels() []string {
	var ls []string
	for _, k := range registry.Kinds() {
		ls = append(ls, k.Label)
	}
	return ls
}
