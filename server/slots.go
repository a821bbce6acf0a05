package server

import (
	"sync"

	"provgraph"
)

// slots bounds how many of something run at once, in total and per caller. It never
// waits: a caller over a bound is told to come back (429), so a burst of one caller's
// queries cannot queue in front of everyone else's.
type slots struct {
	mu        sync.Mutex
	total     int
	perCaller int
	inUse     int
	byCaller  map[string]int
}

func newSlots(total, perCaller int) *slots {
	return &slots{total: total, perCaller: perCaller, byCaller: map[string]int{}}
}

// acquire takes a slot for caller, or says why it cannot; release gives it back.
func (s *slots) acquire(caller string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.byCaller[caller] >= s.perCaller:
		return nil, provgraph.Errorf(provgraph.TooMany, "you already have %d queries running, the most one caller may; retry when one has finished", s.perCaller)
	case s.inUse >= s.total:
		return nil, provgraph.Errorf(provgraph.TooMany, "%d queries are running, the most the server runs at once; retry shortly", s.total)
	}
	s.inUse++
	s.byCaller[caller]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.inUse--
			if s.byCaller[caller]--; s.byCaller[caller] == 0 {
				delete(s.byCaller, caller)
			}
		})
	}, nil
}
