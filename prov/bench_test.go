package prov_test

import (
	"fmt"
	"io"
	"testing"

	"provgraph/prov"
)

// bigChunks is n copies of the example document with distinct ids, one chunk
// per copy, as an exporter pages through the graph.
func bigChunks(n int) ([]*prov.Document, int) {
	var out []*prov.Document
	records := 0
	for i := 0; i < n; i++ {
		d := prov.ExampleDocument()
		suffix := fmt.Sprintf("-%d", i)
		for j := range d.Nodes {
			d.Nodes[j].ID += suffix
		}
		for j := range d.Relations {
			r := &d.Relations[j]
			r.From += suffix
			r.To += suffix
			if prov.RoleIsRecord(r.Role) {
				r.Role += suffix
			}
			if r.Plan != "" {
				r.Plan += suffix
			}
		}
		records += len(d.Nodes) + len(d.Relations)
		out = append(out, d)
	}
	return out, records
}

// BenchmarkEncode reports records (nodes + relations) written per second.
func BenchmarkEncode(b *testing.B) {
	chunks, records := bigChunks(200)
	for _, f := range prov.Formats() {
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				enc, _ := prov.NewEncoder(f, io.Discard, prov.ExampleBase)
				for _, c := range chunks {
					if err := enc.Encode(c); err != nil {
						b.Fatal(err)
					}
				}
				if err := enc.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
