package kfp

import (
	"testing"
	"time"

	"provgraph/registry"
)

// A lookup serves only callers who may read what its caller could, only for LookupTTL,
// and is forgotten when its experiment is.
func TestLookupsNeverWidenAccessAndExpire(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &lookups{now: func() time.Time { return now }}
	grouped := registry.Viewer{Groups: []string{"lab"}}
	l.put("s/1", grouped, Experiment{ID: "s/1", Name: "secret"})
	if _, ok := l.get("s/1", registry.Viewer{}); ok {
		t.Error("a caller without the group reuses a lookup made with it")
	}
	if _, ok := l.get("s/1", registry.Viewer{All: true}); ok {
		t.Error("an admin's key is a group member's")
	}
	if e, ok := l.get("s/1", grouped); !ok || e.Name != "secret" {
		t.Error("the same reader does not reuse its lookup")
	}
	now = now.Add(LookupTTL + time.Second)
	if _, ok := l.get("s/1", grouped); ok {
		t.Error("a lookup outlives LookupTTL")
	}
	l.put("s/1", grouped, Experiment{ID: "s/1"})
	l.put("s/10", grouped, Experiment{ID: "s/10"})
	l.forget("s/1")
	if _, ok := l.get("s/1", grouped); ok {
		t.Error("forget kept the experiment")
	}
	if _, ok := l.get("s/10", grouped); !ok {
		t.Error("forget dropped another experiment whose id it prefixes")
	}
	for i := range 3 * maxLookups {
		l.put(string(rune('a'+i%26))+time.Duration(i).String(), grouped, Experiment{})
	}
	if len(l.m) > maxLookups {
		t.Errorf("%d entries kept", len(l.m))
	}
}
