package server

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"provgraph"
)

func TestSlotsBoundTotalAndPerCaller(t *testing.T) {
	s := newSlots(3, 2)
	a1, err := s.acquire("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire("a"); provgraph.ErrorCode(err) != provgraph.TooMany {
		t.Fatalf("a third of one caller: %v", err)
	}
	if _, err := s.acquire("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire("c"); provgraph.ErrorCode(err) != provgraph.TooMany {
		t.Fatalf("over the total: %v", err)
	}
	a1()
	a1() // releasing twice gives back one slot only
	if _, err := s.acquire("c"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := s.acquire("d"); provgraph.ErrorCode(err) != provgraph.TooMany {
		t.Fatalf("a double release made room: %v", err)
	}
}

// However callers race, no more than the bounds ever hold slots at once.
func TestSlotsUnderContention(t *testing.T) {
	s := newSlots(4, 2)
	var inUse, most atomic.Int32
	perCaller := map[string]*atomic.Int32{"a": {}, "b": {}, "c": {}}
	var wg sync.WaitGroup
	for caller, n := range perCaller {
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 200 {
					release, err := s.acquire(caller)
					if err != nil {
						continue
					}
					if k := inUse.Add(1); k > most.Load() {
						most.Store(k)
					}
					if n.Add(1) > 2 {
						t.Errorf("caller %s holds more than 2", caller)
					}
					n.Add(-1)
					inUse.Add(-1)
					release()
				}
			}()
		}
	}
	wg.Wait()
	if most.Load() > 4 {
		t.Fatalf("%d held at once", most.Load())
	}
	if s.inUse != 0 || len(s.byCaller) != 0 {
		t.Fatalf("left behind: %d, %v", s.inUse, s.byCaller)
	}
}

// A value JSON cannot hold is the server's fault, said as such, never a 200 with no body.
func TestWriteJSONEncodesBeforeTheStatus(t *testing.T) {
	w := httptest.NewRecorder()
	writeJSON(w, http.StatusOK, map[string]any{"x": math.NaN()})
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), `"code":"internal"`) {
		t.Fatalf("got %d %q", w.Code, w.Body.String())
	}
	w = httptest.NewRecorder()
	writeJSON(w, http.StatusCreated, map[string]any{"x": 1})
	if w.Code != http.StatusCreated || w.Body.String() != "{\"x\":1}\n" || w.Header().Get("Content-Length") != "8" {
		t.Fatalf("got %d %q %v", w.Code, w.Body.String(), w.Header())
	}
}
