package graph

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"provgraph"
	"provgraph/runs"
)

func TestProvenaJobs(t *testing.T) {
	s := &ProvenaJobs{DB: MustDB(t)}
	b := make([]byte, 6)
	rand.Read(b)
	tag := hex.EncodeToString(b)
	alice, bob := "alice-"+tag, "bob-"+tag
	at := time.Now().UTC().Truncate(time.Millisecond)
	job := func(id, user, batch string, ago time.Duration) runs.ProvenaJob {
		return runs.ProvenaJob{SessionID: id + "-" + tag, CreatedAt: at.Add(-ago), Username: user, BatchID: batch,
			Payload: json.RawMessage(`{"record":{"x":1}}`), JobType: "PROV_LODGE", JobSubType: "MODEL_RUN_PROV_LODGE", Status: "SUCCEEDED",
			Result: json.RawMessage(`{"record":{"id":"r"}}`)}
	}
	jobs := []runs.ProvenaJob{job("a1", alice, "", 3*time.Second), job("a2", alice, "b-"+tag, 2*time.Second),
		job("a3", alice, "b-"+tag, 2*time.Second), job("b1", bob, "", time.Second)}
	if err := s.AddProvenaJobs(t.Context(), jobs); err != nil {
		t.Fatal(err)
	}
	got, err := s.ProvenaJob(t.Context(), "a2-"+tag)
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != alice || got.BatchID != "b-"+tag || !got.CreatedAt.Equal(at.Add(-2*time.Second)) || string(got.Result) != `{"record":{"id":"r"}}` {
		t.Fatalf("job read back as %+v", got)
	}
	if _, err := s.ProvenaJob(t.Context(), "nope-"+tag); code(err) != provgraph.NotFound {
		t.Fatalf("unknown job: %v", err)
	}
	// alice sees her three, newest first (ties by session id), a page at a time; never bob's.
	var ids []string
	var after *runs.ProvenaJobCursor
	for range 5 {
		page, err := s.ListProvenaJobs(t.Context(), alice, "", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page {
			ids = append(ids, j.SessionID)
		}
		if len(page) < 2 {
			break
		}
		last := page[len(page)-1]
		after = &runs.ProvenaJobCursor{CreatedAt: last.CreatedAt, SessionID: last.SessionID}
	}
	want := []string{"a2-" + tag, "a3-" + tag, "a1-" + tag}
	if len(ids) != 3 || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
		t.Fatalf("alice's jobs paged as %v, want %v", ids, want)
	}
	batch, err := s.ListProvenaJobs(t.Context(), alice, "b-"+tag, nil, 10)
	if err != nil || len(batch) != 2 {
		t.Fatalf("batch: %v %v", batch, err)
	}
	if other, err := s.ListProvenaJobs(t.Context(), bob, "b-"+tag, nil, 10); err != nil || len(other) != 0 {
		t.Fatalf("bob sees alice's batch: %v %v", other, err)
	}
}
