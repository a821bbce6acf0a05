package main

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestMalformedIDsAreNotFound walks every route that names a record or a run by id, as
// the OpenAPI document lists them, with ids no record can have and with every method: a
// malformed id is 404 whatever the method, and a wrong method on a well-formed id is 405.
func TestMalformedIDsAreNotFound(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(c.do("GET", "/openapi.json", nil).Body, &doc); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for p := range doc.Paths {
		if strings.Contains(p, "{id}") {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	if len(paths) < 20 {
		t.Fatalf("only %d routes with an id: %v", len(paths), paths)
	}
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH"}
	valid := m.Config.IDPrefix + "/01J0000000000000000000000A"
	for _, p := range paths {
		for _, bad := range []string{"0", "not-an-id", "x/y", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ"} {
			path := strings.NewReplacer("{id}", bad, "{name}", "0", "{n}", "1").Replace(p)
			for _, method := range methods {
				r := c.do(method, path, "{}")
				if r.Status != 404 {
					t.Errorf("%s %s: %d, want 404: %.200s", method, path, r.Status, r.Body)
				}
			}
		}
		path := strings.NewReplacer("{id}", valid, "{name}", "0", "{n}", "1").Replace(p)
		for _, method := range methods {
			if _, routed := doc.Paths[p][strings.ToLower(method)]; routed {
				continue
			}
			r := c.do(method, path, "{}")
			if r.Status != 405 {
				t.Errorf("%s %s: %d, want 405: %.200s", method, path, r.Status, r.Body)
				continue
			}
			var allowed []string
			for m := range doc.Paths[p] {
				allowed = append(allowed, strings.ToUpper(m))
			}
			slices.Sort(allowed)
			if got := r.Header.Get("Allow"); got != strings.Join(allowed, ", ") {
				t.Errorf("%s %s: Allow %q, want %q", method, path, got, allowed)
			}
		}
	}
}
