package graph

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

func TestAzureSnapshots(t *testing.T) {
	b := make([]byte, 6)
	rand.Read(b)
	id := "snap-" + hex.EncodeToString(b)
	db := MustDB(t)
	s := &AzureSnapshots{DB: db}
	if _, _, ok, err := s.Snapshot(t.Context(), id); err != nil || ok {
		t.Fatalf("a snapshot never created: ok=%v err=%v", ok, err)
	}
	if err := s.PutSnapshot(t.Context(), id, "aa", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSnapshot(t.Context(), id, "bb", 5); err != nil { // created again: the new manifest
		t.Fatal(err)
	}
	// A second store on the same database (a restarted server) reads it back.
	sum, size, ok, err := (&AzureSnapshots{DB: db}).Snapshot(t.Context(), id)
	if err != nil || !ok || sum != "bb" || size != 5 {
		t.Fatalf("read back: %q %d %v %v", sum, size, ok, err)
	}
	// One node for the id, and not a record.
	v, err := db.read(t.Context(), func(tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(t.Context(), tx, `MATCH (s:AzureSnapshot {id:$id}) RETURN count(s) AS n, sum(CASE WHEN s:Record THEN 1 ELSE 0 END) AS rec`, map[string]any{"id": id})
		if err != nil {
			return nil, err
		}
		n, _ := recs[0].Get("n")
		rec, _ := recs[0].Get("rec")
		return [2]any{n, rec}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.([2]any); got[0] != int64(1) || got[1] != int64(0) {
		t.Fatalf("nodes, records for one snapshot: %v", got)
	}
}
