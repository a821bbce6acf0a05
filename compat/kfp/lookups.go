package kfp

import (
	"strings"
	"sync"
	"time"

	"provgraph/registry"
)

// LookupTTL is how long run creation reuses an experiment lookup: a renamed experiment's
// new name reaches new runs within it. Access is not widened by it: an entry serves only
// a caller who may read what the caller who looked it up could.
const LookupTTL = 30 * time.Second

// maxLookups bounds the entries; past it the oldest half is dropped.
const maxLookups = 4096

type lookup struct {
	e  Experiment
	at time.Time
}

// lookups remembers experiments by id and by what the caller who read them may read.
type lookups struct {
	mu  sync.Mutex
	m   map[string]lookup
	now func() time.Time
}

func viewerKey(id string, v registry.Viewer) string {
	if v.All {
		return id + "\x00*"
	}
	return id + "\x00" + strings.Join(v.Groups, "\x00")
}

func (l *lookups) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

func (l *lookups) get(id string, v registry.Viewer) (Experiment, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[viewerKey(id, v)]
	if !ok || l.clock().Sub(e.at) > LookupTTL {
		return Experiment{}, false
	}
	return e.e, true
}

func (l *lookups) put(id string, v registry.Viewer, e Experiment) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	if l.m == nil {
		l.m = map[string]lookup{}
	}
	if len(l.m) >= maxLookups {
		for k, x := range l.m {
			if now.Sub(x.at) > LookupTTL/2 || len(l.m) >= maxLookups/2 {
				delete(l.m, k)
			}
		}
	}
	l.m[viewerKey(id, v)] = lookup{e: e, at: now}
}

// forget drops every entry of an experiment.
func (l *lookups) forget(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.m {
		if strings.HasPrefix(k, id+"\x00") {
			delete(l.m, k)
		}
	}
}
