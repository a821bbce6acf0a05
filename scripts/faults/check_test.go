package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"provgraph/scripts/internal/apiclient"
	"provgraph/scripts/internal/fixture"
)

// doc is a model-run document naming inputs a, b, outputs c, d, modeller m and study s.
func doc(t *testing.T, name string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"display_name": name, "study_id": "s",
		"inputs":       []any{map[string]any{"dataset_id": "a"}, map[string]any{"dataset_id": "b"}},
		"outputs":      []any{map[string]any{"dataset_id": "c"}, map[string]any{"dataset_id": "d"}},
		"associations": map[string]any{"modeller_id": "m"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMissing(t *testing.T) {
	complete := func(t *testing.T) storedRun {
		return storedRun{ID: "r", Document: doc(t, "run"), Used: []string{"a", "b", "model"}, Generated: []string{"c", "d"},
			Associate: []string{"m"}, Informed: []string{"s"}}
	}
	tests := []struct {
		name   string
		change func(*storedRun)
		want   []string
	}{
		{"complete", func(*storedRun) {}, nil},
		{"an input missing", func(r *storedRun) { r.Used = []string{"a", "model"} }, []string{"USED b"}},
		{"the model missing", func(r *storedRun) { r.Used = []string{"a", "b"} }, []string{"USED model"}},
		{"an output missing", func(r *storedRun) { r.Generated = []string{"d"} }, []string{"WAS_GENERATED_BY c"}},
		{"no relationships at all", func(r *storedRun) { r.Used, r.Generated, r.Associate, r.Informed = nil, nil, nil, nil },
			[]string{"USED a", "USED b", "USED model", "WAS_GENERATED_BY c", "WAS_GENERATED_BY d", "WAS_ASSOCIATED_WITH m", "WAS_INFORMED_BY s"}},
		{"an input twice", func(r *storedRun) { r.Used = append(r.Used, "a") }, []string{"USED a 2 times", "1 USED more than its document names"}},
		{"an output it does not name", func(r *storedRun) { r.Generated = append(r.Generated, "x") }, []string{"1 WAS_GENERATED_BY more than its document names"}},
		{"a broken document", func(r *storedRun) { r.Document = "{" }, []string{"its document does not parse: unexpected end of JSON input"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := complete(t)
			tt.change(&r)
			got := missing(r, "model")
			if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckWrites(t *testing.T) {
	full := func(id, name string) storedRun {
		return storedRun{ID: id, Document: doc(t, name), Used: []string{"a", "b", "model"}, Generated: []string{"c", "d"},
			Associate: []string{"m"}, Informed: []string{"s"}}
	}
	writes := []*write{
		{I: 0, ID: "id0", Attempts: 3, Replayed: true}, // acknowledged by a replay, stored
		{I: 1, ID: "id1"},                   // acknowledged, stored under another id: lost
		{I: 2, ID: "id2"},                   // acknowledged, not stored: lost
		{I: 3},                              // never acknowledged, stored anyway
		{I: 4},                              // never acknowledged, not stored
		{I: 5, ID: "id5"},                   // acknowledged, stored twice
		{I: 6, Refused: "422 bad document"}, // refused
	}
	partial := full("id3", "bench run 3")
	partial.Generated = nil
	stored := []storedRun{full("id0", "bench run 0"), full("other", "bench run 1"), partial, full("id5", "bench run 5"), full("id5b", "bench run 5")}
	v := checkWrites(writes, stored, "model")
	if v.Attempted != 7 || v.Acked != 4 || v.AckedAfterRetry != 1 || v.Replayed != 1 || v.InGraph != 5 || v.UnackedCommitted != 1 || v.NeverAnswered != 2 {
		t.Errorf("counts: %+v", v)
	}
	if len(v.Lost) != 2 || !strings.HasPrefix(v.Lost[0], "id1 ") || !strings.HasPrefix(v.Lost[1], "id2 ") {
		t.Errorf("lost: %q", v.Lost)
	}
	if len(v.Partial) != 1 || !strings.HasPrefix(v.Partial[0], "id3 ") {
		t.Errorf("partial: %q", v.Partial)
	}
	if len(v.Duplicated) != 1 || !strings.HasPrefix(v.Duplicated[0], "bench run 5:") {
		t.Errorf("duplicated: %q", v.Duplicated)
	}
	if len(v.Refused) != 1 {
		t.Errorf("refused: %q", v.Refused)
	}
}

// TestProblems checks that the rules on answers fail a run that breaks them.
func TestProblems(t *testing.T) {
	answer := func(status int, retryAfter bool) apiclient.Response {
		h := http.Header{}
		if retryAfter {
			h.Set("Retry-After", "5")
		}
		return apiclient.Response{Status: status, Header: h, Body: []byte(`{}`)}
	}
	tests := []struct {
		name  string
		down  []apiclient.Response // answers while Neo4j is down
		after []apiclient.Response
		want  []string // substrings of the problems, in order
	}{
		{"503s with Retry-After", []apiclient.Response{answer(503, true), answer(503, true)}, []apiclient.Response{answer(201, false)}, nil},
		{"a 500", []apiclient.Response{answer(503, true), answer(500, false)}, nil, []string{"1 answers were 5xx other than 503"}},
		{"a 503 without Retry-After", []apiclient.Response{answer(503, true), answer(503, false)}, nil, []string{"1 503s came without Retry-After"}},
		{"no 503 while Neo4j was down", []apiclient.Response{answer(201, false)}, nil, []string{"no client saw a 503 while Neo4j was down"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLoad(nil, fixture.Fixture{}, "t", 0)
			l.setPhase("Neo4j down or restarting")
			for _, r := range tt.down {
				l.record("POST /api/v1/model-runs", r, nil, 0)
			}
			l.setPhase("after Neo4j's restart")
			for _, r := range tt.after {
				l.record("POST /api/v1/model-runs", r, nil, 0)
			}
			got := report{Load: l, Verdict: verdict{Acked: 1}}.problems()
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("problem %d: %q lacks %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}
