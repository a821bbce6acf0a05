package graph

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"provgraph"
	"provgraph/lineage"
	"provgraph/prov"
	"provgraph/registry"
)

// A record restricted to a group is, for anyone outside it, not there: not read, not
// listed, not in lineage or PROV, not walked through, not usable in a registration; and
// Cypher, which would read it, is refused to them.
func TestRestrictedRecords(t *testing.T) {
	mr, doc, d, _ := runFixture(t)
	svc, _ := mustService(t)
	// d0 → run1 → d1 → run2 → d2; d1 is restricted to "reef-team".
	run1, err := mr.Register(t.Context(), []byte(doc(d[0], d[1])), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	run2, err := mr.Register(t.Context(), []byte(doc(d[1], d[2])), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	db := MustDB(t)
	access := &Access{DB: db}
	member := registry.Viewer{Groups: []string{"other", "reef-team"}}
	outsider := registry.Viewer{Groups: []string{"other"}}
	creator := actor
	creator.Viewer = member

	// Who may set it: the creator or an admin, keeping themselves in.
	stranger := registry.Actor{Subject: "test:stranger", Viewer: member}
	if _, err := access.Set(t.Context(), d[1], []string{"reef-team"}, stranger, time.Now()); code(err) != provgraph.Forbidden {
		t.Fatalf("a stranger restricted it: %v", err)
	}
	if _, err := access.Set(t.Context(), d[1], []string{"reef-team"}, registry.Actor{Subject: actor.Subject, Viewer: outsider}, time.Now()); code(err) != provgraph.Invalid {
		t.Fatalf("the creator locked themselves out: %v", err)
	}
	if _, err := access.Set(t.Context(), d[1], []string{"bad name"}, creator, time.Now()); code(err) != provgraph.Invalid {
		t.Fatalf("a bad group name: %v", err)
	}
	if a, err := access.Set(t.Context(), d[1], []string{"reef-team", "reef-team"}, creator, time.Now()); err != nil || !slices.Equal(a.ReadGroups, []string{"reef-team"}) {
		t.Fatalf("set: %+v, %v", a, err)
	}

	datasets := kind(t, "datasets")
	for _, c := range []struct {
		name string
		v    registry.Viewer
		sees bool
	}{{"outsider", outsider, false}, {"nobody described", registry.Viewer{}, false}, {"member", member, true}, {"admin", registry.Everyone, true}} {
		t.Run(c.name, func(t *testing.T) {
			v := c.v
			found := func(err error) bool {
				t.Helper()
				if err != nil && code(err) != provgraph.NotFound {
					t.Fatal(err)
				}
				return err == nil
			}
			check := func(what string, got bool) {
				t.Helper()
				if got != c.sees {
					t.Errorf("%s: seen %v, want %v", what, got, c.sees)
				}
			}
			_, err := svc.Get(t.Context(), datasets, d[1], 0, v)
			check("get", found(err))
			_, err = svc.History(t.Context(), datasets, d[1], v)
			check("history", found(err))
			_, err = access.Get(t.Context(), d[1], v)
			check("its access list", found(err))
			_, err = (&Provenance{DB: db}).Kind(t.Context(), d[1], v)
			check("/id resolution", found(err))
			page, err := svc.List(t.Context(), registry.ListQuery{Kind: datasets, SortField: "created_at", Desc: true, PageSize: 100, Viewer: v, // newest first: a shared database holds many "d1"
				Filters: map[string]string{}, NameContains: "d1"})
			if err != nil {
				t.Fatal(err)
			}
			check("list", slices.ContainsFunc(page.Records, func(r registry.Record) bool { return r.ID == d[1] }))

			// Lineage: not returned, and run1 and d0 lie beyond it, so not reached either.
			l := &Lineage{DB: db}
			up, err := l.Walk(t.Context(), lineage.Query{ID: d[2], Direction: lineage.Upstream, Depth: 6, Limit: 100, Viewer: v})
			if err != nil {
				t.Fatal(err)
			}
			reached := func(id string) bool {
				return slices.ContainsFunc(up.Nodes, func(n lineage.Node) bool { return n.ID == id })
			}
			check("upstream: the record", reached(d[1]))
			check("upstream: beyond it", reached(run1.ID) || reached(d[0]))
			if !reached(run2.ID) {
				t.Errorf("upstream lost run2, which is readable: %+v", up.Nodes)
			}
			for _, e := range up.Edges {
				if !c.sees && (e.From == d[1] || e.To == d[1]) {
					t.Errorf("an edge names the hidden record: %+v", e)
				}
			}
			_, err = l.Walk(t.Context(), lineage.Query{ID: d[1], Direction: lineage.Both, Depth: 1, Limit: 10, Viewer: v})
			check("walk from it", found(err))
			path, err := l.Path(t.Context(), d[2], d[0], 10, false, v)
			if err != nil {
				t.Fatal(err)
			}
			check("a path through it", len(path.Nodes) > 0)

			// PROV: the closure does not hold it or what lies beyond it; run2's own
			// document does not name it, and run2's stored PROV-JSON (which does) is left out.
			pdoc, err := (&Provenance{DB: db}).Document(t.Context(), d[2], 5, v)
			if err != nil {
				t.Fatal(err)
			}
			check("PROV closure", provHolds(t, pdoc, d[1]) || provHolds(t, pdoc, d[0]))
			pdoc, err = (&Provenance{DB: db}).Document(t.Context(), run2.ID, 0, v)
			if err != nil {
				t.Fatal(err)
			}
			check("PROV of the run that used it", provHolds(t, pdoc, d[1]))
			rec, err := svc.Get(t.Context(), kind(t, "model-runs"), run2.ID, 0, v)
			if err != nil {
				t.Fatal(err)
			}
			check("stored PROV-JSON of the run that used it", len(rec.ProvJSON) > 0)

			// Cypher would read it, so it is refused outright.
			_, err = db.ReadCypher(t.Context(), "MATCH (n:Record {id:$id}) RETURN n.name AS name", map[string]any{"id": d[1]}, 5*time.Second, 10, v)
			if err != nil && code(err) != provgraph.Forbidden {
				t.Fatal(err)
			}
			check("Cypher", err == nil)

			// A registration may name only what its author may read.
			_, err = mr.Register(t.Context(), []byte(doc(d[1], d[3])), registry.Actor{Subject: "test:writer", Viewer: v}, "")
			if err != nil && code(err) != provgraph.Invalid {
				t.Fatal(err)
			}
			if pe, ok := errors.AsType[*provgraph.Error](err); ok && !strings.Contains(fmt.Sprint(pe.Fields), "/inputs/0/dataset_id") {
				t.Errorf("refused for the wrong reason: %v", err)
			}
			check("registering a run that uses it", err == nil)
		})
	}

	// A delete refused for its dependents does not name one the deleter may not read.
	org := orgOf(t, d[0])
	err = svc.Delete(t.Context(), kind(t, "organisations"), org, registry.Actor{Subject: "test:outsider", Viewer: outsider}, "x")
	if code(err) != provgraph.Conflict || strings.Contains(err.Error(), d[1]) || !strings.Contains(err.Error(), "a record you may not read") {
		t.Fatalf("outsider's delete: %v", err)
	}
	err = svc.Delete(t.Context(), kind(t, "organisations"), org, registry.Actor{Subject: "test:admin", Viewer: registry.Everyone}, "x")
	if code(err) != provgraph.Conflict || !strings.Contains(err.Error(), d[1]) {
		t.Fatalf("admin's delete: %v", err)
	}

	// A new version keeps the restriction; lifting it opens every version again.
	if _, err := svc.Update(t.Context(), datasets, d[1], []byte(datasetDoc("d1 again", orgOf(t, d[0]))), creator, "renamed"); err != nil {
		t.Fatal(err)
	}
	for _, version := range []int{1, 2} {
		if _, err := svc.Get(t.Context(), datasets, d[1], version, outsider); code(err) != provgraph.NotFound {
			t.Fatalf("version %d after an update: %v", version, err)
		}
	}
	if a, err := access.Set(t.Context(), d[1], []string{}, creator, time.Now()); err != nil || len(a.ReadGroups) != 0 {
		t.Fatalf("lift: %+v, %v", a, err)
	}
	for _, version := range []int{1, 2} {
		if _, err := svc.Get(t.Context(), datasets, d[1], version, outsider); err != nil {
			t.Fatalf("version %d after lifting: %v", version, err)
		}
	}
}

// provHolds says whether a PROV document names a record (any version of it).
func provHolds(t *testing.T, doc *prov.Document, id string) bool {
	t.Helper()
	var b strings.Builder
	enc, err := prov.NewEncoder("provjson", &b, testBase)
	if err != nil {
		t.Fatal(err)
	}
	if err := encodeAll(enc, doc); err != nil {
		t.Fatal(err)
	}
	return strings.Contains(b.String(), id)
}
