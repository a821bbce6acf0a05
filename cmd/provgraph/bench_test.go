package main

import (
	"testing"
)

// BenchmarkRegisterModelRunHTTP is one model run per request through the whole server,
// for profiling (go test -bench RegisterModelRunHTTP -cpuprofile cpu.out ./cmd/provgraph);
// the figures that count come from scripts/bench.
func BenchmarkRegisterModelRunHTTP(b *testing.B) {
	m := mustMain(b, nil)
	c := client{t: b, base: m.URL, token: testAdmin}
	f := mustFixture(c)
	doc := runDoc(f, f.dataset, "bench")
	b.SetParallelism(4) // 8 clients on 2 CPUs, as scripts/bench's concurrency 8
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := c.do("POST", "/api/v1/model-runs", doc); r.Status != 201 {
				b.Errorf("%d %s", r.Status, r.Body)
				return
			}
		}
	})
}
