package graph

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"provgraph/registry"
	"reflect"
	"strings"
	"testing"
	"time"

	"provgraph"
	"provgraph/prov"
	"provgraph/prov/provtest"
	"provgraph/runs"
)

// countingEncoder records every chunk it is given before passing it on.
type countingEncoder struct {
	prov.Encoder
	calls, maxNodes, maxRels int
	nodes                    map[string]int
	nodeByID                 map[string]prov.Node
	rels                     map[string]int
}

func newCounting(enc prov.Encoder) *countingEncoder {
	return &countingEncoder{Encoder: enc, nodes: map[string]int{}, nodeByID: map[string]prov.Node{}, rels: map[string]int{}}
}

func (c *countingEncoder) Encode(doc *prov.Document) error {
	c.calls++
	c.maxNodes = max(c.maxNodes, len(doc.Nodes))
	c.maxRels = max(c.maxRels, len(doc.Relations))
	for _, n := range doc.Nodes {
		c.nodes[n.ID]++
		c.nodeByID[n.ID] = n
	}
	for _, r := range doc.Relations {
		c.rels[relKey(r)]++
	}
	return c.Encoder.Encode(doc)
}

func relKey(r prov.Relation) string {
	t := ""
	if r.Time != nil {
		t = r.Time.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%s %s -> %s role=%s plan=%s time=%s", r.Type, r.From, r.To, r.Role, r.Plan, t)
}

// exportFixture registers a small workflow under its own prefix: every kind, two model
// runs, a revision and a deletion. It returns the prefix and the current records' ids.
func exportFixture(t *testing.T) (string, []string) {
	t.Helper()
	svc, _ := mustService(t)
	org := mustCreate(t, svc, "organisations", orgDoc("org"))
	person := mustCreate(t, svc, "people", `{"display_name":"Ada","first_name":"Ada","last_name":"L","email":"a@example.org"}`)
	model := mustCreate(t, svc, "models", `{"display_name":"m","name":"m","description":"d","documentation_url":"https://doc","source_url":"https://src"}`)
	tin := mustCreate(t, svc, "dataset-templates", `{"display_name":"in"}`)
	tout := mustCreate(t, svc, "dataset-templates", `{"display_name":"out"}`)
	wf := mustCreate(t, svc, "workflow-templates", fmt.Sprintf(`{"display_name":"w","software_id":%q,"input_templates":[{"template_id":%q}],"output_templates":[{"template_id":%q}]}`, model.ID, tin.ID, tout.ID))
	study := mustCreate(t, svc, "studies", `{"title":"s","description":"d"}`)
	ids := []string{org.ID, person.ID, model.ID, tin.ID, tout.ID, wf.ID, study.ID}
	var datasets []string
	for i := range 4 {
		d := mustCreate(t, svc, "datasets", datasetDoc(fmt.Sprint("d", i), org.ID)).ID
		datasets = append(datasets, d)
		ids = append(ids, d)
	}
	mr := &runs.ModelRuns{Store: &ModelRuns{DB: MustDB(t), BaseIRI: testBase}, Schemas: svc.Schemas, IDs: svc.IDs, Now: time.Now}
	for i := range 2 {
		rec, err := mr.Register(t.Context(), []byte(fmt.Sprintf(`{"workflow_template_id":%q,"inputs":[{"dataset_template_id":%q,"dataset_id":%q}],
			"outputs":[{"dataset_template_id":%q,"dataset_id":%q}],"display_name":"run","description":"d","study_id":%q,
			"associations":{"modeller_id":%q,"requesting_organisation_id":%q},"start_time":1700000000,"end_time":1700003600}`,
			wf.ID, tin.ID, datasets[2*i], tout.ID, datasets[2*i+1], study.ID, person.ID, org.ID)), actor, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	if _, err := svc.Update(t.Context(), kind(t, "organisations"), org.ID, []byte(orgDoc("org renamed")), actor, "renamed"); err != nil {
		t.Fatal(err)
	}
	gone := mustCreate(t, svc, "studies", `{"title":"gone","description":"d"}`)
	if err := svc.Delete(t.Context(), kind(t, "studies"), gone.ID, actor, "closed"); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, gone.ID)
	prefix, _, _ := strings.Cut(org.ID, "/")
	return prefix, ids
}

// TestExportScoped exports one prefix's records in small pages: every record, revision
// and deletion exactly once, pages no larger than asked, the same nodes and relations the
// per-record documents give, and output the independent judges accept.
func TestExportScoped(t *testing.T) {
	prefix, ids := exportFixture(t)
	pv := &Provenance{DB: MustDB(t)}
	const page = 3
	enc := newCounting(prov.NewTurtle(io.Discard, testBase))
	var calls []int64
	var total int64
	err := pv.export(t.Context(), enc, func(done, tot int64) { calls = append(calls, done); total = tot }, exportOptions{pageSize: page, prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	enc.Close()

	for id, n := range enc.nodes {
		if n != 1 {
			t.Errorf("node %s written %d times", id, n)
		}
	}
	for k, n := range enc.rels {
		if n != 1 {
			t.Errorf("relation %s written %d times", k, n)
		}
	}
	want := append([]string{ids[0] + "/versions/1"}, ids...)
	for _, id := range want {
		if enc.nodes[id] != 1 {
			t.Errorf("record %s missing", id)
		}
	}
	var deletions, users int
	for id, n := range enc.nodeByID {
		switch n.Kind {
		case "Deletion":
			deletions++
		case "User":
			users++
		}
		if !strings.HasPrefix(id, prefix+"/") && n.Kind != "User" {
			t.Errorf("node %s is outside the prefix", id)
		}
	}
	if deletions != 1 || users == 0 {
		t.Errorf("%d deletions, %d users; want 1 and some", deletions, users)
	}
	// Pages are pages: no chunk is larger than asked, so memory does not grow with the graph.
	statements := len(enc.nodes) + len(enc.rels)
	if enc.maxNodes > page || enc.maxRels > page || enc.calls < statements/page {
		t.Errorf("%d Encode calls, largest %d nodes / %d relations, for %d statements in pages of %d", enc.calls, enc.maxNodes, enc.maxRels, statements, page)
	}
	if last := calls[len(calls)-1]; last != int64(statements) || total != last || calls[0] != 0 {
		t.Errorf("progress %v, total %d; want 0 … %d", calls, total, statements)
	}
	// The same conversion as the per-record documents: their nodes are equal, and every
	// relation they hold is exported, but for those PROV does not define between the
	// classes of their ends (a deleted study's invalidation).
	for _, id := range ids {
		doc, err := pv.Document(t.Context(), id, 0, registry.Everyone)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range doc.Nodes {
			if got, ok := enc.nodeByID[n.ID]; !ok || !reflect.DeepEqual(got, n) {
				t.Errorf("node %s exported as %+v, document has %+v", n.ID, got, n)
			}
		}
		class := map[string]prov.Class{}
		for _, n := range doc.Nodes {
			class[n.ID] = n.Class
		}
		for _, r := range doc.Relations {
			if d, ok := provDomains[r.Type]; ok && (class[r.From] != d[0] || class[r.To] != d[1]) {
				continue
			}
			if enc.rels[relKey(r)] != 1 {
				t.Errorf("relation %s of %s not exported", relKey(r), id)
			}
		}
	}

	dir := t.TempDir()
	files := map[string]string{}
	for _, f := range []struct{ format, file string }{{prov.FormatTurtle, "x.ttl"}, {prov.FormatJSONLD, "x.jsonld"}, {prov.FormatPROVJSON, "x.prov.json"}} {
		var b bytes.Buffer
		enc, _ := prov.NewEncoder(f.format, &b, testBase)
		if err := pv.export(t.Context(), enc, nil, exportOptions{pageSize: page, prefix: prefix}); err != nil {
			t.Fatal(err)
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		files[f.format] = filepath.Join(dir, f.file)
		if err := os.WriteFile(files[f.format], b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	provtest.Judge(t, files[prov.FormatTurtle], files[prov.FormatJSONLD], files[prov.FormatPROVJSON])
}

// TestExportWholeGraph exports the shared database, which other tests write to meanwhile,
// once into Turtle and PROV-JSON together: this test's records are each written once. The
// export goes to files and is read back as a stream, so the test's memory, like the
// export's, does not grow with the database (local ones hold benchmark runs by the million).
func TestExportWholeGraph(t *testing.T) {
	_, ids := exportFixture(t)
	pv := &Provenance{DB: MustDB(t)}
	dir := t.TempDir()
	ttlPath, pjPath := filepath.Join(dir, "whole.ttl"), filepath.Join(dir, "whole.json")
	ttlFile, pjFile := mustCreateFile(t, ttlPath), mustCreateFile(t, pjPath)
	ttl, pj := bufio.NewWriterSize(ttlFile, 1<<20), bufio.NewWriterSize(pjFile, 1<<20)
	counting := &nodeCounter{Encoder: teeEncoder{prov.NewTurtle(ttl, testBase), prov.NewPROVJSON(pj, testBase)}, seen: map[string]uint8{}}
	var done, total int64
	start := time.Now()
	if err := pv.Export(t.Context(), counting, func(d, tot int64) { done, total = d, tot }); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(counting.Close(), ttl.Flush(), pj.Flush(), ttlFile.Close(), pjFile.Close()); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d statements (%d counted first) in %d pages, %s", done, total, counting.calls, time.Since(start))
	for id, n := range counting.seen {
		if n != 1 {
			t.Fatalf("node %s written %d times", id, n)
		}
	}
	var inTurtle, inPROVJSON []string
	for _, id := range ids {
		inTurtle = append(inTurtle, "\n<"+prov.IRI(testBase, id)+"> a ")
		inPROVJSON = append(inPROVJSON, `"id:`+prov.EscapeID(id)+`": {`)
	}
	for i, n := range countInFile(t, ttlPath, inTurtle, 1<<20) {
		if n != 1 {
			t.Errorf("Turtle: %s appears %d times", ids[i], n)
		}
	}
	for i, n := range countInFile(t, pjPath, inPROVJSON, 1<<20) {
		if n != 1 {
			t.Errorf("PROV-JSON: %s appears %d times", ids[i], n)
		}
	}
	f, err := os.Open(pjPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for dec := json.NewDecoder(bufio.NewReader(f)); ; {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("invalid PROV-JSON: %v", err)
		}
	}
}

// nodeCounter counts the chunks and the nodes by id it passes on, and keeps nothing else.
type nodeCounter struct {
	prov.Encoder
	calls int
	seen  map[string]uint8
}

func (c *nodeCounter) Encode(doc *prov.Document) error {
	c.calls++
	for _, n := range doc.Nodes {
		c.seen[n.ID]++
	}
	return c.Encoder.Encode(doc)
}

func mustCreateFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// countInFile counts each pattern in a file read piece bytes at a time. Each piece starts
// with the tail of the one before, so a match across two pieces is found; a match lying
// wholly in that tail was counted before and is skipped.
func countInFile(t *testing.T, path string, patterns []string, piece int) []int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keep := 0
	for _, p := range patterns {
		keep = max(keep, len(p)-1)
	}
	counts := make([]int, len(patterns))
	buf, carried := make([]byte, 0, piece+keep), 0
	for {
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		for i, p := range patterns {
			for at := 0; ; {
				j := bytes.Index(buf[at:], []byte(p))
				if j < 0 {
					break
				}
				if at+j+len(p) > carried {
					counts[i]++
				}
				at += j + 1
			}
		}
		if err == io.EOF {
			return counts
		} else if err != nil {
			t.Fatal(err)
		}
		tail := buf[max(0, len(buf)-keep):]
		buf, carried = append(buf[:0], tail...), len(tail)
	}
}

// teeEncoder encodes every chunk with each encoder.
type teeEncoder []prov.Encoder

func (t teeEncoder) Encode(doc *prov.Document) error {
	for _, e := range t {
		if err := e.Encode(doc); err != nil {
			return err
		}
	}
	return nil
}

func (t teeEncoder) Close() error {
	var err error
	for _, e := range t {
		if cerr := e.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func TestKind(t *testing.T) {
	svc, _ := mustService(t)
	org := mustCreate(t, svc, "organisations", orgDoc("org"))
	pv := &Provenance{DB: MustDB(t)}
	if k, err := pv.Kind(t.Context(), org.ID, registry.Everyone); err != nil || k != "Organisation" {
		t.Fatalf("kind %q %v", k, err)
	}
	if _, err := pv.Kind(t.Context(), org.ID+"x", registry.Everyone); code(err) != provgraph.NotFound {
		t.Fatalf("unknown id: %v", err)
	}
}

// BenchmarkExport reports the rate of a whole-graph export and the statements per page.
func BenchmarkExport(b *testing.B) {
	pv := &Provenance{DB: MustDB(b)}
	for b.Loop() {
		enc := newCounting(prov.NewTurtle(io.Discard, testBase))
		var done int64
		start := time.Now()
		if err := pv.Export(b.Context(), enc, func(d, _ int64) { done = d }); err != nil {
			b.Fatal(err)
		}
		enc.Close()
		b.ReportMetric(float64(done)/time.Since(start).Seconds(), "statements/s")
		b.ReportMetric(float64(done)/float64(enc.calls), "statements/page")
	}
}

// countInFile agrees with counting in memory, matches across its pieces included.
func TestCountInFile(t *testing.T) {
	patterns := []string{"\n<http://x/a> a ", "ab", `"id:q": {`}
	var b bytes.Buffer
	for i := range 3000 {
		b.WriteString(patterns[i%3])
		b.WriteString(strings.Repeat("z", (i*7919)%5))
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, piece := range []int{1, 7, 16, 64, 1 << 20} {
		got := countInFile(t, path, patterns, piece)
		for i, p := range patterns {
			if want := bytes.Count(b.Bytes(), []byte(p)); got[i] != want {
				t.Errorf("pieces of %d, %q: %d, want %d", piece, p, got[i], want)
			}
		}
	}
}
