package cypher

import "testing"

func TestCheck(t *testing.T) {
	for _, ok := range []string{
		"MATCH (n:Dataset) RETURN n.id LIMIT 5",
		"MATCH (n) WHERE n.name = 'LOAD CSV from the shop' RETURN n",
		"// LOAD CSV in a comment\nMATCH (n) RETURN count(n)",
		"CALL db.labels() YIELD label RETURN label",
		"MATCH (r:ModelRun) CALL (r) { MATCH (r)-[:USED]->(d) RETURN count(d) AS n } RETURN r.id, n",
		"MATCH (n {user: 'x'}) RETURN n.used",
	} {
		if err := Check(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
		"load   csv from 'http://evil.example/x.csv' as r return r",
		"LOAD/* hidden */CSV FROM 'https://x' AS r RETURN r",
		"USE system SHOW USERS",
		"SHOW DATABASES",
		"CALL dbms.listConfig()",
		"CALL dbms.components",
		"CALL `dbms`.`listConfig`()",
		"CALL db.createLabel('X')",
		"MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS",
		"",
	} {
		if err := Check(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("MATCH (n) RETURN n")
	f.Add("LOAD CSV FROM 'x' AS r RETURN r")
	f.Fuzz(func(t *testing.T, q string) { _ = Check(q) })
}
