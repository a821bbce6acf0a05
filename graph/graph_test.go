package graph

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"os"
	"sync"
	"testing"
	"time"

	"provgraph/registry"
	"provgraph/schemas"
)

var (
	testDB     *DB
	testDBErr  error
	testDBOnce sync.Once
)

// MustDB connects to the shared test Neo4j (PROVGRAPH_NEO4J_URI, default the local one).
func MustDB(t testing.TB) *DB {
	t.Helper()
	testDBOnce.Do(func() {
		uri := os.Getenv("PROVGRAPH_NEO4J_URI")
		if uri == "" {
			uri = "bolt://127.0.0.1:7687"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		testDB, testDBErr = Open(ctx, Config{URI: uri, Database: "neo4j",
			User: os.Getenv("PROVGRAPH_NEO4J_USER"), Password: os.Getenv("PROVGRAPH_NEO4J_PASSWORD")})
		if testDBErr == nil {
			testDBErr = testDB.EnsureSchema(ctx)
		}
	})
	if testDBErr != nil {
		t.Fatalf("storage tests need Neo4j (make neo4j): %v", testDBErr)
	}
	return testDB
}

// noRetryDB is a second pool to the test database that does not retry transient errors.
func noRetryDB(t testing.TB) *DB {
	t.Helper()
	uri := os.Getenv("PROVGRAPH_NEO4J_URI")
	if uri == "" {
		uri = "bolt://127.0.0.1:7687"
	}
	db, err := Open(t.Context(), Config{URI: uri, Database: "neo4j", NoRetry: true,
		User: os.Getenv("PROVGRAPH_NEO4J_USER"), Password: os.Getenv("PROVGRAPH_NEO4J_PASSWORD")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	return db
}

// testPrefix isolates a test's records in the one shared database.
func testPrefix(t testing.TB) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "test-" + hex.EncodeToString(b)
}

func mustService(t testing.TB) (*registry.Service, *Entities) {
	t.Helper()
	sch, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	ids := registry.NewIDs(testPrefix(t))
	store := &Entities{DB: MustDB(t), IDs: ids}
	return &registry.Service{Store: store, Schemas: sch, IDs: ids, Now: time.Now}, store
}

// queryOne returns the single value of a one-row, one-column query.
func queryOne(cypher string, params map[string]any) func(tx neo4j.ManagedTransaction) (any, error) {
	return func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(context.Background(), cypher, params)
		if err != nil {
			return nil, err
		}
		rec, err := res.Single(context.Background())
		if err != nil {
			return nil, err
		}
		return rec.Values[0], nil
	}
}

// TestEnsureSchemaConcurrently: servers starting together on one database must not fail.
func TestEnsureSchemaConcurrently(t *testing.T) {
	db := MustDB(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = db.EnsureSchema(t.Context()) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := db.SchemaReady(t.Context()); err != nil || !ok {
		t.Fatalf("schema ready: %v %v", ok, err)
	}
}
