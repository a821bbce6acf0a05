package prov_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"provgraph/prov"
	"provgraph/prov/provtest"
)

// TestJudges puts the golden files and chunked exports in front of the
// independent judges (scripts/judges/judge_prov.py).
func TestJudges(t *testing.T) {
	if testing.Short() {
		t.Skip("runs python")
	}
	t.Run("golden", func(t *testing.T) {
		provtest.Judge(t, filepath.Join("testdata", "example.ttl"), filepath.Join("testdata", "example.jsonld"), filepath.Join("testdata", "example.prov.json"))
	})
	for _, base := range []string{prov.ExampleBase, "https://example.org/prov#"} {
		t.Run("chunked "+base, func(t *testing.T) {
			provtest.JudgeDocument(t, base, chunks(prov.ExampleDocument())...)
		})
	}
	t.Run("awkward ids and strings", func(t *testing.T) {
		// Ids PROV-N must escape or percent-encode, and strings that need escaping
		// in every format; python prov must read them without a warning.
		at := time.Date(2024, 11, 20, 9, 15, 2, 123456789, time.UTC)
		ids := []string{"-x/1", ".hidden/y.", "a:b/c", "q'(x)=1;[2],3/4", "~u/@v!$&*+", "ünï/水文 🚀", "100%/x#y?z", `<>"{}|^` + "`\\/1"}
		doc := &prov.Document{Nodes: []prov.Node{{ID: "run/1", Class: prov.Activity, Kind: "Run", StartedAt: &at, EndedAt: &at}}}
		for i, id := range ids {
			doc.Nodes = append(doc.Nodes, prov.Node{ID: id, Class: prov.Entity, Kind: "Dataset",
				Label: fmt.Sprintf("label %d: \"q\" \\ \n\r\t\x01 ü", i), Attrs: map[string]string{"odd key/" + id: id}})
			role := ids[(i+1)%len(ids)] // a record of this document
			if i%2 == 1 {
				role = fmt.Sprintf("port %d \"x\" <y>#z", i) // a plain name
			}
			doc.Relations = append(doc.Relations, prov.Relation{Type: prov.Used, From: "run/1", To: id, Role: role, Time: &at})
		}
		// A record twice in one chunk: PROV-JSON's array of instances.
		doc.Nodes = append(doc.Nodes, prov.Node{ID: ids[0], Class: prov.Entity, Kind: "Dataset", Label: "second instance"})
		provtest.JudgeDocument(t, prov.ExampleBase, doc)
	})
	t.Run("judges can fail", func(t *testing.T) {
		doc := prov.ExampleDocument()
		for i := range doc.Nodes {
			if doc.Nodes[i].ID == prov.ExRun1 {
				early := doc.Nodes[i].StartedAt.Add(-time.Hour)
				doc.Nodes[i].EndedAt = &early
			}
		}
		rec := &recorder{TB: t}
		provtest.JudgeDocument(rec, prov.ExampleBase, doc)
		if !rec.failed || !strings.Contains(rec.msg, "activity ends before it starts") {
			t.Errorf("the judges passed a run that ends before it starts: %s", rec.msg)
		}
	})
}

// recorder is a testing.TB whose Errorf records instead of failing.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.msg += fmt.Sprintf(format, args...)
}
