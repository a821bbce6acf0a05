package graph

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"provgraph/registry"
	"provgraph/runs"
)

// RecordCache keeps the records model runs name (workflow and dataset templates, models,
// people, organisations, studies, datasets) as last read, so that a registration whose
// every named record is cached writes without reading first. A cached record is only a
// guess: the write looks each one up again just before commit and rolls back, to read
// afresh, if its version moved, it was deleted or the author may no longer read it.
type RecordCache struct {
	records *lru.Cache[string, cachedRecord]
	users   *lru.Cache[string, dbtype.Node] // by subject: a user node never changes
	hits    atomic.Int64
	misses  atomic.Int64
}

// cachedRecord is a record node with its document parsed as the rules need it.
type cachedRecord struct {
	node     dbtype.Node
	workflow *runs.Workflow        // of a workflow template
	template *runs.DatasetTemplate // of a dataset template whose document parses
}

// cachedProps are the properties registration reads of a record it names: those its PROV
// document shows, and those the cache judges it by.
var cachedProps = slices.Concat(provNodeProps, []string{"subject", "read_groups"})

// cachedProjection is the Cypher map projection of cachedProps, with the document of a
// template (which the rules read).
var cachedProjection = "." + strings.Join(cachedProps, ", .") + ", document: CASE WHEN n:DatasetTemplate OR n:WorkflowTemplate THEN n.document END"

// NewRecordCache keeps up to size records and as many users; nil (no cache) when size < 1.
func NewRecordCache(size int) *RecordCache {
	if size < 1 {
		return nil
	}
	records, _ := lru.New[string, cachedRecord](size)
	users, _ := lru.New[string, dbtype.Node](size)
	return &RecordCache{records: records, users: users}
}

// Stats are the lookups answered and not answered since the start.
func (c *RecordCache) Stats() (hits, misses int64) {
	if c == nil {
		return 0, 0
	}
	return c.hits.Load(), c.misses.Load()
}

// record is id as cached, if the viewer may read it as cached.
func (c *RecordCache) record(id string, v registry.Viewer) (cachedRecord, bool) {
	if c == nil {
		return cachedRecord{}, false
	}
	r, ok := c.records.Get(id)
	if ok && slices.Contains(r.node.Labels, "Restricted") && !v.Sees(stringList(r.node.Props["read_groups"])) {
		ok = false // perhaps opened since: read it
	}
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return r, ok
}

// user is the user node of subject, if cached.
func (c *RecordCache) user(subject string) (dbtype.Node, bool) {
	if c == nil {
		return dbtype.Node{}, false
	}
	return c.users.Get(subject)
}

// keep caches a node just read: a current record of a kind the registry writes (tracked
// runs and model runs change in other ways), or a user.
func (c *RecordCache) keep(n dbtype.Node, r cachedRecord) {
	if c == nil {
		return
	}
	if slices.Contains(n.Labels, "User") {
		if s := strProp(n.Props, "subject"); s != "" {
			c.users.Add(s, n)
		}
		return
	}
	k, ok := registry.KindByLabel(strProp(n.Props, "kind"))
	if !ok || k.Custom || n.Props["deleted_at"] != nil || !slices.Contains(n.Labels, "Record") {
		return
	}
	r.node = n
	c.records.Add(strProp(n.Props, "id"), r)
}

// keepCreated caches a record just created, from what was written, as a read of
// cachedProjection would answer it: the records a model run names are usually created
// just before it.
func (c *RecordCache) keepCreated(labels []string, props map[string]any) {
	if c == nil {
		return
	}
	n := dbtype.Node{ElementId: fmt.Sprintf("created:%v", props["id"]), Labels: labels, Props: map[string]any{}}
	for _, k := range cachedProps {
		switch v := props[k].(type) {
		case nil:
		case int:
			n.Props[k] = int64(v) // as Neo4j answers it
		case string, int64, float64, bool, time.Time:
			n.Props[k] = v
		default:
			return // not as a read would answer it: leave it to the read
		}
	}
	if doc, ok := props["document"].(string); ok && (slices.Contains(labels, "DatasetTemplate") || slices.Contains(labels, "WorkflowTemplate")) {
		n.Props["document"] = doc // what the rules read, as cachedProjection has it
	}
	if r, err := parseRecord(n); err == nil {
		c.keep(n, r)
	}
}

// forget drops ids, one of which the write found changed.
func (c *RecordCache) forget(ids []string) {
	if c == nil {
		return
	}
	for _, id := range ids {
		c.records.Remove(id)
	}
}

// parseRecord reads the document of a workflow or dataset template node as the rules
// need it.
func parseRecord(n dbtype.Node) (cachedRecord, error) {
	var r cachedRecord
	doc := strProp(n.Props, "document")
	switch strProp(n.Props, "kind") {
	case "WorkflowTemplate":
		var w runs.Workflow
		if err := json.Unmarshal([]byte(doc), &w); err != nil {
			return r, err
		}
		r.workflow = &w
	case "DatasetTemplate":
		var t runs.DatasetTemplate
		if err := json.Unmarshal([]byte(doc), &t); err == nil {
			r.template = &t
		}
	}
	return r, nil
}
