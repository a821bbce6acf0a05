package server

import (
	"context"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"provgraph"
	"provgraph/registry"
	"provgraph/runs"
)

// fakeRuns answers the lifecycle operations; the rest of Runs is not called here.
type fakeRuns struct {
	Runs
	do func(id string, op runs.Op) (runs.Run, error)
}

func (f fakeRuns) Do(_ context.Context, id string, op runs.Op, _ registry.Actor, _ bool, _ string, _ []runs.RunInput) (runs.Run, error) {
	return f.do(id, op)
}

// fakeArtifacts refuses every upload as a run it does not know.
type fakeArtifacts struct{ unused }

// unused is the part of Artifacts these tests do not call.
type unused interface {
	Artifacts(ctx context.Context, runID string) ([]runs.Artifact, error)
	Artifact(ctx context.Context, runID, name string) (runs.Artifact, io.ReadSeekCloser, error)
	Results(ctx context.Context, runID string, w io.Writer) error
}

func (fakeArtifacts) Upload(_ context.Context, runID, _, _ string, _ int64, _ io.Reader, _ registry.Actor, _ bool) (runs.Artifact, error) {
	return runs.Artifact{}, provgraph.Errorf(provgraph.NotFound, "no run %s", runID)
}

// TestBodyTextMustBeUnicode: a string, key or value, that is not UTF-8 or holds a lone
// surrogate escape is refused with 422 naming it, on every route that takes JSON, and
// reaches no service.
func TestBodyTextMustBeUnicode(t *testing.T) {
	reached := 0
	s, _ := mustServer(t, fakeRegistry{create: func(registry.Kind, []byte, registry.Actor, string) (registry.Record, error) {
		reached++
		return registry.Record{ID: "x/01J0000000000000000000000A"}, nil
	}}, fakeHealth{})
	s.Runs = fakeRuns{do: func(string, runs.Op) (runs.Run, error) { reached++; return runs.Run{}, nil }}
	s.Metrics = prometheus.NewRegistry()
	h := s.Handler()
	run := "/api/v1/runs/x/01J0000000000000000000000A"
	tests := []struct {
		name, method, path, body string
		want                     []string
	}{
		{"lone surrogate in a value", "POST", "/api/v1/studies", `{"title":"t\ud800","description":"d"}`, []string{"/title"}},
		{"lone low surrogate in a nested value", "POST", "/api/v1/studies", `{"title":"t","description":["\udc00"]}`, []string{"/description/0"}},
		{"a byte that is not UTF-8 in a key", "POST", "/api/v1/studies", "{\"title\":\"t\",\"desc\xffription\":\"d\"}", []string{"/desc\ufffdription"}},
		{"every one at once", "POST", "/api/v1/studies", "{\"title\":\"\\ud800\",\"description\":\"\xc3\"}", []string{"/title", "/description"}},
		{"an update", "PUT", "/api/v1/studies/x/01J0000000000000000000000A?reason=r", `{"title":"\ud800","description":"d"}`, []string{"/title"}},
		{"a lifecycle operation", "POST", run + ":cancel", `{"reason":"\ud800"}`, []string{"/reason"}},
		{"a batch", "POST", "/api/v1/model-runs:batch", `{"records":[{"display_name":"\udfff"}]}`, []string{"/records/0/display_name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.method, tt.path, writerToken, tt.body)
			if w.Code != 422 {
				t.Fatalf("status %d, want 422: %s", w.Code, w.Body)
			}
			e := decodeError(t, w)
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Path)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if e.Code != provgraph.Invalid || !slices.Equal(got, want) {
				t.Fatalf("fields %q, want %q: %s", got, want, w.Body)
			}
		})
	}
	// Provena's clients get the same refusal in Provena's shape.
	w := do(h, "POST", "/model_run/register_complete", writerToken, `{"record":{"display_name":"\ud800"}}`)
	if w.Code != 422 || !strings.Contains(w.Body.String(), `"detail"`) {
		t.Fatalf("provena: %d %s", w.Code, w.Body)
	}
	if reached != 0 {
		t.Fatalf("%d bodies that are not text reached a service", reached)
	}
	// A valid escaped pair is text.
	if w := do(h, "POST", "/api/v1/studies", writerToken, `{"title":"\ud83d\ude00","description":"d"}`); w.Code != 201 {
		t.Fatalf("escaped pair: %d %s", w.Code, w.Body)
	}
}

// TestJSONContentType: a route that takes JSON refuses any other declared media type
// with 415 and the usual error body; routes that take CSV or bytes keep theirs.
func TestJSONContentType(t *testing.T) {
	s, _ := mustServer(t, fakeRegistry{create: func(registry.Kind, []byte, registry.Actor, string) (registry.Record, error) {
		return registry.Record{ID: "x/01J0000000000000000000000A"}, nil
	}}, fakeHealth{})
	s.Runs = fakeRuns{do: func(string, runs.Op) (runs.Run, error) { return runs.Run{ID: "x/01J0000000000000000000000A"}, nil }}
	s.Artifacts = fakeArtifacts{}
	s.Metrics = prometheus.NewRegistry()
	h := s.Handler()
	study := `{"title":"t","description":"d"}`
	run := "/api/v1/runs/x/01J0000000000000000000000A"
	tests := []struct {
		name, method, path, token, contentType, body string
		want                                         int
	}{
		{"JSON", "POST", "/api/v1/studies", writerToken, "application/json", study, 201},
		{"JSON in UTF-8", "POST", "/api/v1/studies", writerToken, "application/json; charset=utf-8", study, 201},
		{"case does not matter", "POST", "/api/v1/studies", writerToken, "Application/JSON; Charset=UTF-8", study, 201},
		{"a +json type", "POST", "/api/v1/studies", writerToken, "application/vnd.provgraph+json", study, 201},
		{"none is read as JSON", "POST", "/api/v1/studies", writerToken, "", study, 201},
		{"text", "POST", "/api/v1/studies", writerToken, "text/plain", study, 415},
		{"a form, as curl -d sends", "POST", "/api/v1/studies", writerToken, "application/x-www-form-urlencoded", study, 415},
		{"another charset", "POST", "/api/v1/studies", writerToken, "application/json; charset=iso-8859-1", study, 415},
		{"another parameter", "POST", "/api/v1/studies", writerToken, "application/json; version=2", study, 415},
		{"multipart", "POST", "/api/v1/studies", writerToken, "multipart/form-data; boundary=x", study, 415},
		{"not a media type", "POST", "/api/v1/studies", writerToken, "json", study, 415},
		{"an update", "PUT", "/api/v1/studies/x/01J0000000000000000000000A?reason=r", writerToken, "text/plain", study, 415},
		{"a lifecycle operation with a body", "POST", run + ":cancel", writerToken, "text/plain", `{"reason":"r"}`, 415},
		{"a lifecycle operation without one", "POST", run + ":cancel", writerToken, "text/plain", "", 200},
		{"the caller is known first", "POST", "/api/v1/studies", "", "text/plain", study, 401},
		{"CSV keeps its type", "POST", "/api/v1/model-runs:csv", writerToken, "text/csv", "a,b\n", 400},
		{"an artifact keeps its type", "PUT", run + "/artifacts/a.txt", writerToken, "text/plain", "hello", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if tt.want == 415 {
				e := decodeError(t, w)
				if e.Code != provgraph.Invalid || len(e.Fields) != 1 || e.Fields[0].Path != "Content-Type" {
					t.Fatalf("415 body %s", w.Body)
				}
			}
		})
	}
}
