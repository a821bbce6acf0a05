package graph

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"provgraph/registry"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"provgraph"
	"provgraph/prov/provtest"
	"provgraph/runs"
)

func mustUpload(t *testing.T, rs *runs.Runs, runID, name, body string) runs.Artifact {
	t.Helper()
	a, err := rs.Upload(t.Context(), runID, name, "text/plain", -1, strings.NewReader(body), executor, false)
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return a
}

func TestRunArtifacts(t *testing.T) {
	rs, _, _ := runService(t)
	rs.Blobs = &runs.Blobs{Dir: t.TempDir()}
	r := mustRun(t, rs, `{"name":"artifacts"}`)
	if _, err := rs.Upload(t.Context(), r.ID, "early.txt", "", -1, strings.NewReader("x"), executor, false); code(err) != provgraph.Conflict || !strings.Contains(err.Error(), "PENDING") {
		t.Fatalf("upload before claim: %v", err)
	}
	mustDo(t, rs, r.ID, runs.OpClaim, executor)
	if _, err := rs.Upload(t.Context(), r.ID, "x.txt", "", -1, strings.NewReader("x"), actor, false); code(err) != provgraph.Forbidden {
		t.Fatalf("upload by another: %v", err)
	}
	a := mustUpload(t, rs, r.ID, "out/model.bin", "weights")
	if a.Size != 7 || a.Name != "out/model.bin" || a.RunID != r.ID || a.MediaType != "text/plain" || len(a.SHA256) != 64 {
		t.Fatalf("artifact %+v", a)
	}
	if _, err := rs.Upload(t.Context(), r.ID, "out/model.bin", "", -1, strings.NewReader("other"), executor, false); code(err) != provgraph.Conflict {
		t.Fatalf("name reused: %v", err)
	}
	// An admin may upload for the executor; a name taken in a race is one winner.
	if _, err := rs.Upload(t.Context(), r.ID, "by-admin.txt", "", -1, strings.NewReader("a"), actor, true); err != nil {
		t.Fatalf("admin upload: %v", err)
	}
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, err := rs.Store.AddArtifact(t.Context(), runs.ArtifactCreate{RunID: r.ID, Name: "race.txt", SHA256: a.SHA256, Size: a.Size,
				MediaType: "text/plain", Actor: executor, Time: a.CreatedAt})
			if err == nil {
				wins.Add(1)
			} else if code(err) == provgraph.Conflict {
				conflicts.Add(1)
			} else {
				t.Errorf("race: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 9 {
		t.Fatalf("race: %d wins, %d conflicts", wins.Load(), conflicts.Load())
	}
	var archive bytes.Buffer
	if err := rs.Results(t.Context(), r.ID, &archive); code(err) != provgraph.Conflict || archive.Len() != 0 {
		t.Fatalf("results of a running run: %v, %d bytes", err, archive.Len())
	}
	got, f, err := rs.Artifact(t.Context(), r.ID, "out/model.bin")
	if err != nil || got.ID != a.ID {
		t.Fatalf("artifact: %+v %v", got, err)
	}
	if b, _ := io.ReadAll(f); string(b) != "weights" {
		t.Fatalf("bytes %q", b)
	}
	f.Close()
	if _, _, err := rs.Artifact(t.Context(), r.ID, "missing"); code(err) != provgraph.NotFound {
		t.Fatalf("missing: %v", err)
	}
	done := mustDo(t, rs, r.ID, runs.OpComplete, executor)
	if len(done.Outputs) != 3 {
		t.Fatalf("outputs %+v", done.Outputs)
	}
	list, err := rs.Artifacts(t.Context(), r.ID)
	if err != nil || len(list) != 3 || list[0].Name != "by-admin.txt" || list[2].Name != "race.txt" {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := rs.Results(t.Context(), r.ID, &archive); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&archive)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	contents := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		contents[h.Name] = string(b)
	}
	if len(contents) != 3 || contents["out/model.bin"] != "weights" || contents["race.txt"] != "weights" || contents["by-admin.txt"] != "a" {
		t.Fatalf("archive %v", contents)
	}
	if _, err := rs.Upload(t.Context(), r.ID, "late.txt", "", -1, strings.NewReader("x"), executor, false); code(err) != provgraph.Conflict {
		t.Fatalf("upload after complete: %v", err)
	}
	doc, err := (&Provenance{DB: MustDB(t)}).Document(t.Context(), r.ID, 2, registry.Everyone)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range doc.Nodes {
		if n.ID == a.ID && n.Kind == "Artifact" && n.Class == "Entity" {
			found = true
		}
	}
	if !found {
		t.Fatalf("the run's PROV lacks its artifact %s: %+v", a.ID, doc.Nodes)
	}
	provtest.JudgeDocument(t, testBase, doc)
	adoc, err := (&Provenance{DB: MustDB(t)}).Document(t.Context(), a.ID, 1, registry.Everyone)
	if err != nil {
		t.Fatal(err)
	}
	provtest.JudgeDocument(t, testBase, adoc)
}

// A canceled run's partial artifacts are invalidated by it, its PROV stays valid, and a
// purge removes the run with its artifact records.
func TestCanceledRunInvalidatesArtifacts(t *testing.T) {
	rs, store, _ := runService(t)
	rs.Blobs = &runs.Blobs{Dir: t.TempDir()}
	r := mustRun(t, rs, `{"name":"half done"}`)
	mustDo(t, rs, r.ID, runs.OpClaim, executor)
	a := mustUpload(t, rs, r.ID, "partial.csv", "1,2")
	mustDo(t, rs, r.ID, runs.OpCancel, actor)
	mustDo(t, rs, r.ID, runs.OpCanceled, executor)
	n, err := MustDB(t).read(t.Context(), queryOne(`
		MATCH (:Artifact {id:$a})-[i:WAS_INVALIDATED_BY]->(:Run {id:$r}) RETURN count(i)`, map[string]any{"a": a.ID, "r": r.ID}))
	if err != nil || n != int64(1) {
		t.Fatalf("invalidations %v %v", n, err)
	}
	doc, err := (&Provenance{DB: MustDB(t)}).Document(t.Context(), r.ID, 1, registry.Everyone)
	if err != nil {
		t.Fatal(err)
	}
	provtest.JudgeDocument(t, testBase, doc)
	if err := store.PurgeRun(t.Context(), r.ID); err != nil {
		t.Fatal(err)
	}
	left, err := MustDB(t).read(t.Context(), queryOne(`
		OPTIONAL MATCH (x {run_id:$r}) RETURN count(x)`, map[string]any{"r": r.ID}))
	if err != nil || left != int64(0) {
		t.Fatalf("purge left %v nodes (%v)", left, err)
	}
}
