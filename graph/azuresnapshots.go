package graph

import (
	"context"
	"sync"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// AzureSnapshots keeps the Azure ML adapter's index from a snapshot id to its manifest
// (a blob's SHA-256 and size) as (:AzureSnapshot) nodes: bookkeeping, not records, so no
// lineage, export or Cypher recipe meets them. It outlives the server, so a run
// submitted after a restart from a snapshot made before it still uses that snapshot.
type AzureSnapshots struct {
	DB          *DB
	mu          sync.Mutex
	constrained bool
}

// ensureConstraint makes snapshot ids unique, idempotently, until once it is made; a
// failure is tried again on the next write.
func (s *AzureSnapshots) ensureConstraint(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.constrained {
		return
	}
	sess := s.DB.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(context.WithoutCancel(ctx))
	res, err := sess.Run(ctx, "CREATE CONSTRAINT azure_snapshot_id IF NOT EXISTS FOR (s:AzureSnapshot) REQUIRE s.id IS UNIQUE", nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	s.constrained = err == nil
}

// PutSnapshot records that snapshot id's manifest is the blob sum of size bytes; a
// snapshot created again with the same id takes the new manifest.
func (s *AzureSnapshots) PutSnapshot(ctx context.Context, id, sum string, size int64) error {
	s.ensureConstraint(ctx)
	_, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, `MERGE (s:AzureSnapshot {id:$id}) SET s.sha256 = $sum, s.size = $size`,
			map[string]any{"id": id, "sum": sum, "size": size})
		if err != nil {
			return nil, err
		}
		_, err = res.Consume(ctx)
		return nil, err
	})
	return err
}

// Snapshot reads snapshot id's manifest; ok is false for a snapshot never created.
func (s *AzureSnapshots) Snapshot(ctx context.Context, id string) (sum string, size int64, ok bool, err error) {
	type row struct {
		sum  string
		size int64
	}
	v, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, `MATCH (s:AzureSnapshot {id:$id}) RETURN s.sha256 AS sum, s.size AS size LIMIT 1`, map[string]any{"id": id})
		if err != nil || len(recs) == 0 {
			return nil, err
		}
		sum, _ := recs[0].Get("sum")
		size, _ := recs[0].Get("size")
		r := row{}
		r.sum, _ = sum.(string)
		r.size, _ = size.(int64)
		return &r, nil
	})
	if err != nil {
		return "", 0, false, err
	}
	r, _ := v.(*row)
	if r == nil {
		return "", 0, false, nil
	}
	return r.sum, r.size, true, nil
}
