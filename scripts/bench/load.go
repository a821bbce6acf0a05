package main

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// op performs the i-th request of a phase and says how many records it registered.
type op func(ctx context.Context, i int) (records int, err error)

// phase is how long and how wide one measurement runs.
type phase struct {
	Concurrency int
	Duration    time.Duration // used when Count is 0
	Count       int           // requests in all, when > 0
}

// result is one measured phase: a row of the report.
type result struct {
	Section     string // e.g. "raw", "api", "batch"
	Label       string
	Concurrency int
	Batch       int // records per request
	Requests    int
	Records     int
	Errors      int
	FirstErrors []string
	Elapsed     time.Duration
	Latencies   []time.Duration // of successful requests, sorted
	Skipped     string          // why the phase did not run
	ServerCPU   time.Duration   // processor time the server used in the phase
	DBCPU       time.Duration   // and Neo4j (0: its process was not found)
	ClientCPU   time.Duration   // and the benchmark itself, the client
	MachineBusy float64         // fraction of the machine's processor time in use
	Blocked     float64         // mean number of database transactions waiting for a lock
	Open        float64         // mean number of open database transactions

	// The lifecycle section: one record is one lifecycle of a tracked run.
	Operations int                        // operations done
	Ops        map[string][]time.Duration // latency per operation type, sorted
	Stmts      map[string][]time.Duration // raw side: time per statement, sorted
	ReadBack   []time.Duration            // graph.readRun timed one at a time, sorted
	LockProbe  []time.Duration            // the lock statement timed beside it, sorted
	Notes      []string
}

// CPUPerRecord is the server's processor time per record registered.
func (r result) CPUPerRecord() time.Duration { return r.perRecord(r.ServerCPU) }

// perRecord is a processor time of the phase per record registered.
func (r result) perRecord(d time.Duration) time.Duration {
	if r.Records == 0 {
		return 0
	}
	return d / time.Duration(r.Records)
}

// Rate is records registered per second.
func (r result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Records) / r.Elapsed.Seconds()
}

// Percentile is the latency below which fraction p of the successful requests fell
// (nearest rank).
func (r result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(p*float64(len(r.Latencies))+0.999999) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// counter hands out request numbers across phases, so no two requests of a run build
// the same record.
type counter struct{ n atomic.Int64 }

func (c *counter) next() int { return int(c.n.Add(1) - 1) }

// drive runs o from ph.Concurrency closed-loop workers until the duration is over or the
// count is reached, timing each request. The elapsed time ends when the last request
// in flight ends.
func drive(ctx context.Context, ph phase, seq *counter, o op) result {
	var (
		mu        sync.Mutex
		res       = result{Concurrency: ph.Concurrency}
		issued    atomic.Int64
		deadline  = time.Now().Add(ph.Duration)
		wg        sync.WaitGroup
		startedAt = time.Now()
	)
	for range ph.Concurrency {
		wg.Go(func() {
			var lat []time.Duration
			var reqs, recs, errs int
			var firsts []string
			for ctx.Err() == nil {
				if ph.Count > 0 {
					if issued.Add(1) > int64(ph.Count) {
						break
					}
				} else if time.Now().After(deadline) {
					break
				}
				t0 := time.Now()
				n, err := o(ctx, seq.next())
				d := time.Since(t0)
				reqs++
				if err != nil {
					errs++
					if len(firsts) < 3 {
						firsts = append(firsts, err.Error())
					}
					continue
				}
				recs += n
				lat = append(lat, d)
			}
			mu.Lock()
			defer mu.Unlock()
			res.Requests += reqs
			res.Records += recs
			res.Errors += errs
			res.Latencies = append(res.Latencies, lat...)
			for _, e := range firsts {
				if len(res.FirstErrors) < 3 {
					res.FirstErrors = append(res.FirstErrors, e)
				}
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(startedAt)
	slices.Sort(res.Latencies)
	return res
}
