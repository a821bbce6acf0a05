package graph

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"provgraph"
	"provgraph/registry"
)

// Every way past the old text check that was found, and the plain forms, is refused by
// the plan; reads of many shapes (each bounded, so a large shared database answers them
// quickly) are not.
func TestUserCypherIsJudgedByItsPlan(t *testing.T) {
	db := MustDB(t)
	nbsp := "\u00a0"
	for _, c := range []struct {
		query string
		want  provgraph.Code
	}{
		{"TERMINATE TRANSACTIONS 'neo4j-transaction-1'", provgraph.Forbidden},
		{"SHOW TRANSACTIONS YIELD transactionId AS t WHERE t <> '' TERMINATE TRANSACTIONS t YIELD message RETURN message", provgraph.Forbidden},
		{"SHOW TRANSACTIONS", provgraph.Forbidden},
		{"SHOW" + nbsp + "TRANSACTIONS", provgraph.Forbidden},
		{"SHOW SETTINGS", provgraph.Forbidden},
		{"SHOW INDEXES", provgraph.Forbidden},
		{"SHOW PROCEDURES", provgraph.Forbidden},
		{"SHOW DATABASES", provgraph.Forbidden},
		{"SHOW USERS", provgraph.Forbidden},
		{"CREATE DATABASE evil", provgraph.Forbidden},
		{"DROP DATABASE neo4j", provgraph.Forbidden},
		{"STOP DATABASE neo4j", provgraph.Forbidden},
		{"WITH '//' AS x CALL dbms.listConfig() YIELD name RETURN name", provgraph.Forbidden},
		{"CALL" + nbsp + "dbms.listConfig()", provgraph.Forbidden},
		{"CALL dbms.listConfig()", provgraph.Forbidden},
		{"CALL `dbms`.`listConfig`()", provgraph.Forbidden},
		{"CALL dbms.components() YIELD name RETURN name", provgraph.Forbidden},
		{"CALL db.createLabel('Evil')", provgraph.Forbidden},
		{"CALL dbms.listConnections()", provgraph.Forbidden},
		{"LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row", provgraph.Forbidden},
		{"LOAD" + nbsp + "CSV FROM 'file:///etc/passwd' AS row RETURN row", provgraph.Forbidden},
		{"CREATE (n:Evil) RETURN n", provgraph.Forbidden},
		{"MATCH (n:Evil) DETACH DELETE n", provgraph.Forbidden},
		{"MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS", provgraph.Forbidden},
		{"CREATE INDEX evil IF NOT EXISTS FOR (n:Evil) ON (n.x)", provgraph.Forbidden},
		{"USE system CALL dbms.components() YIELD name RETURN name", provgraph.Forbidden},
		{"USE system MATCH (n) RETURN n", provgraph.Invalid}, // Neo4j refuses it before we see a plan
		{"RETURN 1 +", provgraph.Invalid},                    // the user's mistake, in Neo4j's words
	} {
		_, err := db.ReadCypher(t.Context(), c.query, nil, 5*time.Second, 10, registry.Everyone)
		if got := provgraph.ErrorCode(err); got != c.want {
			t.Errorf("%q: got %s (%v), want %s", c.query, got, err, c.want)
		}
	}
	for _, q := range []string{
		"MATCH (n:Dataset) RETURN n.id LIMIT 5",
		"MATCH (n) WHERE n.name = 'SHOW TRANSACTIONS' RETURN count(n) AS n",
		"CALL db.labels() YIELD label RETURN label",
		"CALL db.schema.visualization()",
		"MATCH (a:Record) WITH a LIMIT 20 MATCH p = (a)-[:USED|WAS_GENERATED_BY*1..3]->(b:Record) RETURN p LIMIT 3",
		"MATCH (r:ModelRun) CALL (r) { MATCH (r)-[:USED]->(d) RETURN count(d) AS n } RETURN r.id, n LIMIT 3",
		"MATCH (a:Record {id:'x'}), (b:Record {id:'y'}) WHERE a.id < b.id RETURN count(*) AS pairs",
		"MATCH (a:Record {id:'x'}), (b:Record {id:'y'}) MATCH p = shortestPath((a)-[*..5]-(b)) RETURN p",
		"MATCH (n:Record) WITH n LIMIT 50 WITH n.created_at AS t ORDER BY t DESC SKIP 1 LIMIT 2 RETURN collect(t) AS ts",
		"UNWIND [1,2,2,3] AS x RETURN DISTINCT x UNION RETURN 4 AS x",
		"MATCH (n:Record) WITH n LIMIT 50 WHERE EXISTS { (n)-[:USED]->() } RETURN count(n) AS c",
		"MATCH (n:Record) OPTIONAL MATCH (n)-[u:USED]->(d) RETURN n.id, count(u) AS c LIMIT 2",
		"MATCH (n:Record) WITH n LIMIT 50 RETURN n.id, COUNT { (n)--() } AS degree ORDER BY degree DESC LIMIT 3",
		"MATCH (n:Record {id:'x'})-[:WAS_REVISION_OF]->+(m) RETURN count(m) AS c",
		"RETURN 0.0/0.0 AS nan, 1.0/0.0 AS inf, -1.0/0.0 AS ninf",
	} {
		if _, err := db.ReadCypher(t.Context(), q, nil, 10*time.Second, 10, registry.Everyone); err != nil {
			t.Errorf("%q refused: %v", q, err)
		}
	}
}

// Results JSON cannot hold as numbers come back as the strings documented.
func TestUserCypherNonFiniteResults(t *testing.T) {
	db := MustDB(t)
	rows, err := db.ReadCypher(t.Context(), "RETURN 0.0/0.0 AS nan, 1.0/0.0 AS inf, [-1.0/0.0] AS l, {x: 0.0/0.0} AS m", nil, 5*time.Second, 10, registry.Everyone)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(rows.Rows[0])
	if want := "map[inf:Infinity l:[-Infinity] m:map[x:NaN] nan:NaN]"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if !strings.Contains(got, "NaN") {
		t.Fatal("unreachable")
	}
}

// A query that needs more memory than one transaction may have is the caller's 422, not
// the "busy" 503 a transient error would be; the database carries on.
func TestUserCypherMemoryLimitIsTheCallers(t *testing.T) {
	db := MustDB(t)
	_, err := db.ReadCypher(t.Context(), "UNWIND range(1, 100000000) AS i RETURN size(collect(toString(i))) AS n", nil, 60*time.Second, 10, registry.Everyone)
	if provgraph.ErrorCode(err) != provgraph.Invalid || !strings.Contains(err.Error(), "memory") {
		t.Fatalf("got %v", err)
	}
	if _, err := db.ReadCypher(t.Context(), "RETURN 1 AS one", nil, 5*time.Second, 10, registry.Everyone); err != nil {
		t.Fatal(err)
	}
}
