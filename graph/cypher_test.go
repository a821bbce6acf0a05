package graph

import (
	"context"
	"net/http"
	"net/http/httptest"
	"provgraph/registry"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"provgraph"
)

// The database itself, not only our check of the query text, refuses to load files or
// URLs: LOAD CSV goes straight to Neo4j here.
func TestDatabaseLoadsNoFilesAndNoURLs(t *testing.T) {
	db := MustDB(t)
	var hits atomic.Int32
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1); _, _ = w.Write([]byte("a,b\n")) }))
	defer web.Close()
	for _, url := range []string{"file:///etc/passwd", web.URL + "/x.csv"} {
		if _, err := db.ReadCypher(t.Context(), "LOAD CSV FROM $url AS row RETURN row", map[string]any{"url": url}, 5*time.Second, 10, registry.Everyone); err == nil {
			t.Errorf("%s was loaded", url)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the database fetched a URL %d times", hits.Load())
	}
	// Writes fail in a read transaction whatever the text.
	if _, err := db.ReadCypher(t.Context(), "CREATE (n:Evil) RETURN n", nil, 5*time.Second, 10, registry.Everyone); err == nil {
		t.Fatal("a write ran in a read transaction")
	}
}

// When our own deadline passes before the database stops the query (a loaded machine),
// the answer is still the time limit, not "the database is unavailable".
func TestReadCypherOwnDeadlineIsTheTimeLimit(t *testing.T) {
	db := MustDB(t)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	_, err := db.ReadCypher(ctx, "UNWIND range(1, 1000000000) AS i WITH i WHERE i < 0 RETURN count(i)", nil, 30*time.Second, 10, registry.Everyone)
	if provgraph.ErrorCode(err) != provgraph.Invalid || !strings.Contains(err.Error(), "time limit") {
		t.Fatalf("got %v", err)
	}
}
