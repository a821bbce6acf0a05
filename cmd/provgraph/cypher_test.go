package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
		"USE system MATCH (n) RETURN n",
		"LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
		"LOAD CSV FROM '" + web.URL + "/x.csv' AS row RETURN row",
	} {
		if r := q(write, map[string]any{"id": f.dataset}); r.Status != 422 {
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
	for _, bad := range []string{`{}`, `{"query":"RETURN 1","limit":0.5}`, `{"query":"RETURN 1","extra":true}`, `{"query":"RETURN 1","limit":100000}`} {
		if r := c.do("POST", "/api/v1/cypher", bad); r.Status != 422 {
			t.Errorf("%s: %d", bad, r.Status)
		}
	}
}
