package graph

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"provgraph"
	"provgraph/registry"
	"provgraph/schemas"
)

// serverSet are indexed properties no caller writes: times, states, ids the server mints.
var serverSet = []string{"created_at", "updated_at", "lease_until", "state", "run_id", "id", "key", "subject", "activity"}

// TestIndexedPropertiesFitTheIndex holds every range index on a property a caller sets to
// its JSON Schema: the longest valid value, at four bytes a character, must fit an index
// key, or valid input fails its write with 500.
func TestIndexedPropertiesFitTheIndex(t *testing.T) {
	sch, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	on := regexp.MustCompile(`^CREATE INDEX \w+ IF NOT EXISTS FOR \(n:(\w+)\) ON \(n\.(\w+)\)$`)
	checked := 0
	for _, stmt := range constraints() {
		m := on.FindStringSubmatch(stmt)
		if m == nil || slices.Contains(serverSet, m[2]) {
			continue
		}
		lbl, prop := m[1], m[2]
		schemaName, field := "run", prop // tracked runs: name
		if k, ok := registry.KindByLabel(lbl); ok {
			schemaName, field = k.Name, k.NameField
			if f, ok := k.FilterByParam(prop); ok {
				field = f.Field
			} else if prop != "name" {
				t.Errorf("%s.%s is indexed but is neither the name nor a filter", lbl, prop)
				continue
			}
		}
		raw, _ := sch.Raw(schemaName)
		def := findProperty(t, raw, field)
		if def == nil {
			t.Errorf("%s.%s: no field %q in schema %s", lbl, prop, field, schemaName)
			continue
		}
		worst := worstBytes(def)
		if worst < 0 || worst > indexKeyLimit {
			t.Errorf("%s.%s (schema %s, field %s): the longest valid value takes %d bytes; an index key holds %d", lbl, prop, schemaName, field, worst, indexKeyLimit)
		}
		checked++
	}
	if checked < 15 {
		t.Fatalf("checked only %d indexed properties: the statement pattern no longer matches", checked)
	}
}

// findProperty is the first definition of a property named field, at any depth.
func findProperty(t *testing.T, raw []byte, field string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var find func(v any) map[string]any
	find = func(v any) map[string]any {
		switch x := v.(type) {
		case map[string]any:
			if props, ok := x["properties"].(map[string]any); ok {
				if d, ok := props[field].(map[string]any); ok {
					return d
				}
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if d := find(x[k]); d != nil {
					return d
				}
			}
		case []any:
			for _, e := range x {
				if d := find(e); d != nil {
					return d
				}
			}
		}
		return nil
	}
	return find(doc)
}

// worstBytes is the most bytes a valid value takes in an index key, -1 when unbounded.
func worstBytes(def map[string]any) int {
	switch def["type"] {
	case "string":
		n, ok := def["maxLength"].(float64)
		if !ok {
			return -1
		}
		return 4 * int(n)
	case "array":
		n, ok := def["maxItems"].(float64)
		item, _ := def["items"].(map[string]any)
		if !ok || item == nil || worstBytes(item) < 0 {
			return -1
		}
		return int(n) * (worstBytes(item) + 2)
	}
	return -1
}

// TestLongestValidValuesAreStored registers records whose indexed fields are as long as
// their schemas allow, in four-byte characters, on the real Neo4j: every one is stored,
// and one character more is refused by the schema with its field named.
func TestLongestValidValuesAreStored(t *testing.T) {
	svc, _ := mustService(t)
	// Another process's older start may have made the index this one drops.
	if err := MustDB(t).EnsureSchema(t.Context()); err != nil {
		t.Fatal(err)
	}
	wide := func(n int) string { return strings.Repeat("😀", n) }
	uri := func(n int) string { return "https://e.org/" + wide(n-len("https://e.org/")) }
	org := mustCreate(t, svc, "organisations", mustJSON(t, map[string]any{"display_name": wide(256), "name": wide(256)}))
	// These records go when the test ends: an older server starting on this database
	// would make the keyword index again, and these could not be indexed.
	prefix := org.ID[:strings.LastIndex(org.ID, "/")+1]
	t.Cleanup(func() {
		MustDB(t).write(context.Background(), queryOne(`MATCH (n:Record) WHERE n.id STARTS WITH $p DETACH DELETE n RETURN count(*)`, map[string]any{"p": prefix}))
	})
	keywords := make([]string, 64)
	for i := range keywords {
		keywords[i] = wide(127) + string(rune('a'+i%26))
	}
	dataset := map[string]any{"display_name": wide(256), "name": wide(256), "description": "d", "location": uri(2000), "license": uri(2000),
		"publisher_id": org.ID, "created_date": "2024-01-01", "published_date": "2024-02-01", "keywords": keywords}
	ds := mustCreate(t, svc, "datasets", mustJSON(t, dataset))
	mustCreate(t, svc, "models", mustJSON(t, map[string]any{"display_name": wide(256), "name": wide(256), "description": "d",
		"documentation_url": uri(2048), "source_url": uri(2000)}))
	mustCreate(t, svc, "people", mustJSON(t, map[string]any{"display_name": wide(256), "first_name": wide(256), "last_name": wide(256),
		"email": "a@" + strings.Repeat("b", 60) + ".org"}))
	mustCreate(t, svc, "studies", mustJSON(t, map[string]any{"title": wide(256), "description": "d"}))

	q, err := registry.ParseListQuery(kind(t, "datasets"), map[string][]string{"keyword": {keywords[5]}, "publisher_id": {org.ID}})
	if err != nil {
		t.Fatal(err)
	}
	page, err := svc.List(t.Context(), q)
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != ds.ID {
		t.Fatalf("keyword filter: %v %+v", err, page.Records)
	}

	for field, v := range map[string]any{"location": uri(2001), "keywords": append(keywords, "x")} {
		over := map[string]any{}
		for k, v := range dataset {
			over[k] = v
		}
		over[field] = v
		_, err := svc.Create(t.Context(), kind(t, "datasets"), []byte(mustJSON(t, over)), actor, "")
		if code(err) != provgraph.Invalid || !slices.Contains(fields(err), "/"+field) {
			t.Errorf("%s one over its bound: %v %v", field, err, fields(err))
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
