package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"provgraph/auth"
)

func TestCypherIsReadOnlyAndBounded(t *testing.T) {
	m := mustMain(t, func(c *Config) { c.CypherTimeout = 2 * time.Second })
	c := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(c)
	q := func(query string, params map[string]any) response {
		return c.do("POST", "/api/v1/cypher", map[string]any{"query": query, "parameters": params})
	}
	r := q("MATCH (d:Dataset:Record {id:$id}) RETURN d, d.name AS name", map[string]any{"id": f.dataset})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"name":"Reef survey"`) || !strings.Contains(string(r.Body), `"labels":[`) {
		t.Fatalf("read: %d %s", r.Status, r.Body)
	}
	if r := c.do("POST", "/api/v1/cypher", map[string]any{"query": "UNWIND range(1, 100) AS i RETURN i", "limit": 10}); r.Status != 200 || !strings.Contains(string(r.Body), `"truncated":true`) {
		t.Fatalf("row limit: %d %s", r.Status, r.Body)
	}
	// A web server that must never be asked for anything.
	var hits atomic.Int32
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1); _, _ = w.Write([]byte("a,b\n")) }))
	defer web.Close()
	for _, write := range []string{
		"CREATE (n:Dataset {id:'x'}) RETURN n",
		"MERGE (n:Person {id:'y'}) RETURN n",
		"MATCH (n:Record {id:$id}) SET n.name = 'hacked' RETURN n",
		"MATCH (n:Record {id:$id}) DETACH DELETE n",
		"MATCH (n:Record {id:$id}) REMOVE n:Record RETURN n",
		"CREATE INDEX evil IF NOT EXISTS FOR (n:Dataset) ON (n.evil)",
		"CALL dbms.listConfig()",
		"CALL db.createLabel('Evil')",
		"SHOW USERS",
		"USE system CALL dbms.components() YIELD name RETURN name",
		"LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
		"LOAD CSV FROM '" + web.URL + "/x.csv' AS row RETURN row",
		// Each of these passed the old text check.
		"TERMINATE TRANSACTIONS 'neo4j-transaction-1'",
		"SHOW\u00a0TRANSACTIONS",
		"WITH '//' AS x CALL dbms.listConfig() YIELD name RETURN name",
		"CALL\u00a0dbms.listConfig()",
	} {
		if r := q(write, map[string]any{"id": f.dataset}); r.Status != 403 || !strings.Contains(string(r.Body), `"path":"/query"`) {
			t.Errorf("%q: %d %s", write, r.Status, r.Body)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the database fetched a URL %d times", hits.Load())
	}
	if r := c.do("GET", "/api/v1/datasets/"+f.dataset, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"name":"Reef survey"`) {
		t.Fatalf("a refused query changed the graph: %d %s", r.Status, r.Body)
	}
	// A query that would run forever is stopped by the time limit; the server carries on.
	start := time.Now()
	if r := q("UNWIND range(1, 1000000000) AS i WITH i WHERE i < 0 RETURN count(i)", nil); r.Status != 422 || !strings.Contains(string(r.Body), "time limit") {
		t.Fatalf("endless query: %d %s", r.Status, r.Body)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the time limit took %s", took)
	}
	if r := q("RETURN 1 AS one", nil); r.Status != 200 {
		t.Fatalf("after the endless query: %d", r.Status)
	}
	for _, bad := range []string{`{}`, `{"query":"RETURN 1","limit":0.5}`, `{"query":"RETURN 1","extra":true}`, `{"query":"RETURN 1","limit":100000}`,
		`{"query":"RETURN 1","query":"SHOW TRANSACTIONS"}`, `{"query":"RETURN $x","parameters":{"x":1e400}}`} {
		if r := c.do("POST", "/api/v1/cypher", bad); r.Status != 422 {
			t.Errorf("%s: %d", bad, r.Status)
		}
	}
}

// Bounds that keep a query from hurting the database: parameters nested thousands deep
// once crashed Neo4j's Bolt reader; brackets hundreds deep kept its parser busy for
// seconds; a NaN in the result answered 200 with no body.
func TestCypherBoundsItsInput(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	deep := strings.Repeat("[", 4000) + "1" + strings.Repeat("]", 4000)
	r := c.do("POST", "/api/v1/cypher", `{"query":"RETURN size($x) AS n","parameters":{"x":`+deep+`}}`)
	if r.Status != 422 || !strings.Contains(string(r.Body), "nested deeper than 32") {
		t.Fatalf("parameter 4000 deep: %d %s", r.Status, r.Body)
	}
	r = c.do("POST", "/api/v1/cypher", map[string]any{"query": "RETURN " + strings.Repeat("(", 500) + "1" + strings.Repeat(")", 500) + " AS n"})
	if r.Status != 422 || !strings.Contains(string(r.Body), "nested 500 deep") {
		t.Fatalf("500 brackets: %d %s", r.Status, r.Body)
	}
	r = c.do("POST", "/api/v1/cypher", map[string]any{"query": "RETURN 0.0/0.0 AS nan, 1.0/0.0 AS inf, $x AS x", "parameters": map[string]any{"x": []any{1.5, "Infinity"}}})
	if r.Status != 200 || !strings.Contains(string(r.Body), `"rows":[{"inf":"Infinity","nan":"NaN","x":[1.5,"Infinity"]}]`) {
		t.Fatalf("non-finite result: %d %s", r.Status, r.Body)
	}
	if r := c.do("POST", "/api/v1/cypher", map[string]any{"query": "RETURN 1 AS one"}); r.Status != 200 {
		t.Fatalf("after: %d %s", r.Status, r.Body)
	}
}

// A caller over its share of concurrent queries is told to come back (429 with
// Retry-After); another caller is not held up by it.
func TestCypherConcurrencyPerCaller(t *testing.T) {
	m := mustMain(t, func(c *Config) { c.CypherTimeout = 2 * time.Second; c.CypherPerCaller = 1; c.CypherConcurrency = 2 })
	busy := client{t: t, base: m.URL, token: testAdmin}
	other := tokenClient(t, m, auth.Admin, "other") // an admin: records other tests restrict do not shut it out
	endless := map[string]any{"query": "UNWIND range(1, 1000000000) AS i WITH i WHERE i < 0 RETURN count(i)"}
	// Two queries of one caller, each running for its whole time limit: one runs, the
	// other is refused at once.
	done := make(chan response, 2)
	for range 2 {
		go func() { done <- busy.do("POST", "/api/v1/cypher", endless) }()
	}
	refused := <-done
	if refused.Status != 429 || refused.Header.Get("Retry-After") == "" || !strings.Contains(string(refused.Body), "too_many_requests") {
		<-done
		t.Fatalf("a second query of the same caller: %d %v %s", refused.Status, refused.Header, refused.Body)
	}
	if r := other.do("POST", "/api/v1/cypher", map[string]any{"query": "RETURN 1 AS one"}); r.Status != 200 {
		t.Errorf("another caller while the first runs: %d %s", r.Status, r.Body)
	}
	if r := <-done; r.Status != 422 {
		t.Fatalf("the endless query: %d %s", r.Status, r.Body)
	}
	if r := busy.do("POST", "/api/v1/cypher", map[string]any{"query": "RETURN 1 AS one"}); r.Status != 200 {
		t.Fatalf("after its query ended: %d %s", r.Status, r.Body)
	}
}

// The old reproduction: a reader looping SHOW TRANSACTIONS … TERMINATE TRANSACTIONS turned
// most concurrent writes into 500s. Now every such query is refused and every write lands.
func TestCypherCannotTerminateOthersWrites(t *testing.T) {
	m := mustMain(t, nil)
	writer := client{t: t, base: m.URL, token: testAdmin}
	// Any role at all, admin included: the plan decides, not the role.
	reader := tokenClient(t, m, auth.Admin, "looper")
	stop := make(chan struct{})
	var refused, other atomic.Int32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			r := reader.do("POST", "/api/v1/cypher", map[string]any{"query": "SHOW TRANSACTIONS YIELD transactionId AS t WHERE t <> '' TERMINATE TRANSACTIONS t YIELD message RETURN message"})
			if r.Status == 403 && strings.Contains(string(r.Body), "administration") {
				refused.Add(1)
			} else {
				other.Add(1)
			}
		}
	}()
	for i := range 40 {
		r := writer.do("POST", "/api/v1/organisations", map[string]any{"display_name": fmt.Sprintf("Org %d", i), "name": "org"})
		if r.Status != 201 {
			t.Errorf("write %d: %d %s", i, r.Status, r.Body)
		}
	}
	close(stop)
	wg.Wait()
	if refused.Load() == 0 || other.Load() != 0 {
		t.Fatalf("terminating queries: %d refused, %d not", refused.Load(), other.Load())
	}
}
