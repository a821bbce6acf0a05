package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"provgraph/scripts/internal/apiclient"
	"provgraph/scripts/internal/fixture"
)

// tally counts the answers of one phase of the run.
type tally struct {
	Requests   int
	Status     map[int]int // by HTTP status
	RetryAfter int         // 503s that carried Retry-After
	Transport  int         // no HTTP answer: refused, reset, timed out
	Slowest    time.Duration
	Samples    []string // the first few answers that break a rule
}

// write is one logical model-run registration: the same body and Idempotency-Key are
// sent until it is acknowledged (201) or the run ends.
type write struct {
	I        int
	Key      string
	ID       string // from the 201
	AckedAt  time.Time
	Attempts int
	Refused  string // a final answer other than 201 or 503
	// Replayed: the 201 carried a record created before the attempt that got it was
	// sent, so an earlier attempt had committed and its answer was lost; the
	// Idempotency-Key gave back the first result.
	Replayed bool
}

// lifecycle is one tracked run: create, claim, complete, each retried like a write.
type lifecycle struct {
	I        int
	Key      string
	ID       string
	Acked    []string // operations acknowledged with 2xx, in order: create, claim, complete
	Observed []string // operations seen done by a read after an unacknowledged attempt
	Refused  string
}

// load is the clients: registration writers, a tracked-run lifecycle client and a
// reader, all retrying on 503 and transport errors after backoff.
type load struct {
	c       *apiclient.Client
	f       fixture.Fixture
	tag     string
	backoff time.Duration

	phase    atomic.Pointer[string]
	stopping atomic.Bool
	drainTo  atomic.Int64 // unix nanoseconds: pending writes stop retrying then
	inflight atomic.Int64 // registrations in flight

	mu         sync.Mutex
	tallies    map[string]*tally
	order      []string // phases in the order they began
	writes     []*write
	lifecycles []*lifecycle
	acks       []time.Time // when each registration was acknowledged, in order
	next       int
}

func newLoad(c *apiclient.Client, f fixture.Fixture, tag string, backoff time.Duration) *load {
	l := &load{c: c, f: f, tag: tag, backoff: backoff, tallies: map[string]*tally{}}
	l.setPhase("before the faults")
	return l
}

func (l *load) setPhase(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.tallies[name]; !ok {
		l.tallies[name] = &tally{Status: map[int]int{}}
		l.order = append(l.order, name)
	}
	l.phase.Store(&name)
}

// do sends one request and counts its answer in the phase current when it arrived
// (unless the run is being cancelled).
func (l *load) do(ctx context.Context, method, path string, body any, headers ...string) (apiclient.Response, error) {
	t0 := time.Now()
	r, err := l.c.Do(ctx, method, path, body, headers...)
	if ctx.Err() == nil {
		l.record(method+" "+routeOf(path), r, err, time.Since(t0))
	}
	return r, err
}

// record counts one answer in the phase current when it arrived.
func (l *load) record(what string, r apiclient.Response, err error, took time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tallies[*l.phase.Load()]
	t.Requests++
	t.Slowest = max(t.Slowest, took)
	sample := func(s string) {
		if len(t.Samples) < 5 {
			t.Samples = append(t.Samples, s)
		}
	}
	if err != nil {
		t.Transport++
		return
	}
	t.Status[r.Status]++
	switch {
	case r.Status == http.StatusServiceUnavailable && r.Header.Get("Retry-After") != "":
		t.RetryAfter++
	case r.Status == http.StatusServiceUnavailable:
		sample(fmt.Sprintf("%s: 503 without Retry-After: %s", what, oneLine(r.Body)))
	case r.Status >= 500:
		sample(fmt.Sprintf("%s: %d %s", what, r.Status, oneLine(r.Body)))
	}
}

func oneLine(b []byte) string {
	s := string(b)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// retryable says whether a client should send the same request again.
func retryable(r apiclient.Response, err error) bool {
	return err != nil || r.Status == http.StatusServiceUnavailable
}

// giveUp says whether a pending request should stop retrying: the load is over and so
// is its drain.
func (l *load) giveUp(ctx context.Context) bool {
	return ctx.Err() != nil || l.stopping.Load() && time.Now().UnixNano() > l.drainTo.Load()
}

func (l *load) sleep(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(l.backoff):
	}
}

// writer registers model runs one after another until the load stops.
func (l *load) writer(ctx context.Context) {
	for ctx.Err() == nil && !l.stopping.Load() {
		l.mu.Lock()
		w := &write{I: l.next, Key: fmt.Sprintf("%s-run-%d", l.tag, l.next)}
		l.next++
		l.writes = append(l.writes, w)
		l.mu.Unlock()
		body, err := json.Marshal(l.f.ModelRun(w.I))
		if err != nil {
			w.Refused = err.Error()
			return
		}
		for !l.giveUp(ctx) {
			sent := time.Now()
			l.inflight.Add(1)
			r, err := l.do(ctx, "POST", "/api/v1/model-runs", body, "Idempotency-Key", w.Key)
			l.inflight.Add(-1)
			w.Attempts++
			if ctx.Err() != nil {
				return
			}
			if retryable(r, err) {
				l.sleep(ctx)
				continue
			}
			if r.Status != http.StatusCreated {
				w.Refused = fmt.Sprintf("%d %s", r.Status, oneLine(r.Body))
				break
			}
			var rec struct {
				ID        string    `json:"id"`
				CreatedAt time.Time `json:"created_at"`
			}
			if err := r.JSON(&rec); err != nil || rec.ID == "" {
				w.Refused = "201 without an id: " + oneLine(r.Body)
				break
			}
			l.mu.Lock()
			w.ID, w.AckedAt = rec.ID, time.Now()
			w.Replayed = w.Attempts > 1 && rec.CreatedAt.Before(sent)
			l.acks = append(l.acks, w.AckedAt)
			l.mu.Unlock()
			break
		}
	}
}

// firstAckAfter is when the first registration after t was acknowledged.
func (l *load) firstAckAfter(t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, _ := slices.BinarySearchFunc(l.acks, t, func(a, t time.Time) int { return a.Compare(t) })
	if i == len(l.acks) {
		return time.Time{}, false
	}
	return l.acks[i], true
}

// lifecycler creates, claims and completes tracked runs one after another. A transition
// retried after an unanswered attempt may find it already done (409): a read then says
// whether the run is in the state the transition leads to.
func (l *load) lifecycler(ctx context.Context) {
	for i := 0; ctx.Err() == nil && !l.stopping.Load(); i++ {
		lc := &lifecycle{I: i, Key: fmt.Sprintf("%s-lifecycle-%d", l.tag, i)}
		l.mu.Lock()
		l.lifecycles = append(l.lifecycles, lc)
		l.mu.Unlock()
		spec := map[string]any{
			"name": fmt.Sprintf("fault lifecycle %d", i), "kind": "task", "description": "a tracked run of scripts/faults",
			"tags":     map[string]string{"faults": l.tag},
			"ref":      map[string]any{"workflow_template_id": l.f.Workflow, "model_id": l.f.Model},
			"study_id": l.f.Study,
			"inputs":   []any{map[string]any{"id": l.f.Dataset(i, 0), "role": "data"}},
		}
		r, ok, _ := l.send(ctx, "POST", "/api/v1/runs", spec, "Idempotency-Key", lc.Key)
		if !ok {
			return
		}
		var rec struct {
			ID string `json:"id"`
		}
		if r.Status != http.StatusCreated || r.JSON(&rec) != nil || rec.ID == "" {
			lc.Refused = fmt.Sprintf("create: %d %s", r.Status, oneLine(r.Body))
			continue
		}
		l.mu.Lock()
		lc.ID = rec.ID
		lc.Acked = append(lc.Acked, "create")
		l.mu.Unlock()
		for _, step := range []struct{ op, state string }{{"claim", "RUNNING"}, {"complete", "SUCCEEDED"}} {
			path := "/api/v1/runs/" + rec.ID + ":" + step.op
			r, ok, retried := l.send(ctx, "POST", path, map[string]any{"reason": "scripts/faults"})
			if !ok {
				return
			}
			if r.Status == http.StatusOK {
				l.mu.Lock()
				lc.Acked = append(lc.Acked, step.op)
				l.mu.Unlock()
				continue
			}
			if r.Status == http.StatusConflict && retried {
				g, ok, _ := l.send(ctx, "GET", "/api/v1/runs/"+rec.ID, nil)
				var run struct {
					State string `json:"state"`
				}
				if ok && g.Status == http.StatusOK && g.JSON(&run) == nil && run.State == step.state {
					l.mu.Lock()
					lc.Observed = append(lc.Observed, step.op)
					l.mu.Unlock()
					continue
				}
			}
			lc.Refused = fmt.Sprintf("%s: %d %s", step.op, r.Status, oneLine(r.Body))
			break
		}
	}
}

// send retries a request on 503 and transport errors until it gets another answer
// (ok) or the load is over; retried says whether an earlier attempt went unanswered or
// was refused with 503.
func (l *load) send(ctx context.Context, method, path string, body any, headers ...string) (r apiclient.Response, ok, retried bool) {
	for attempt := 0; !l.giveUp(ctx); attempt++ {
		var err error
		r, err = l.do(ctx, method, path, body, headers...)
		if ctx.Err() != nil {
			return r, false, retried
		}
		if !retryable(r, err) {
			return r, true, retried
		}
		retried = true
		l.sleep(ctx)
	}
	return r, false, retried
}

// routeOf names a path's route, for the samples of answers that break a rule.
func routeOf(path string) string {
	for _, prefix := range []string{"/api/v1/runs/", "/api/v1/model-runs/"} {
		if strings.HasPrefix(path, prefix) {
			return prefix + "…"
		}
	}
	return path
}

// reader reads back acknowledged model runs, so that reads meet the faults too.
func (l *load) reader(ctx context.Context) {
	for n := 0; ctx.Err() == nil && !l.stopping.Load(); n++ {
		l.mu.Lock()
		var id string
		if len(l.writes) > 0 {
			for k := range len(l.writes) {
				if w := l.writes[(n+k)%len(l.writes)]; w.ID != "" {
					id = w.ID
					break
				}
			}
		}
		l.mu.Unlock()
		if id == "" {
			l.sleep(ctx)
			continue
		}
		r, err := l.do(ctx, "GET", "/api/v1/model-runs/"+id, nil)
		if ctx.Err() != nil {
			return
		}
		if retryable(r, err) {
			l.sleep(ctx)
		}
	}
}

// ready polls /readyz every 100 ms until it answers 200 or until the deadline, counting
// its answers like any other request's.
func (l *load) ready(ctx context.Context, until time.Time) (time.Time, bool) {
	for ctx.Err() == nil && time.Now().Before(until) {
		r, err := l.do(ctx, "GET", "/readyz", nil)
		if err == nil && r.Status == http.StatusOK {
			return time.Now(), true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Time{}, false
}
