package flowserv

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"provgraph"
	"provgraph/auth"
	"provgraph/registry"
	"provgraph/runs"
)

// fakes of the services: what the routes translate to, without storage.
type fakeRuns struct{ runs map[string]runs.Run }

func (f *fakeRuns) Create(context.Context, []byte, registry.Actor, string) (runs.Run, error) {
	return runs.Run{}, provgraph.Errorf(provgraph.Internal, "not here")
}
func (f *fakeRuns) Get(_ context.Context, id, _ string) (runs.Run, error) {
	if r, ok := f.runs[id]; ok {
		return r, nil
	}
	return runs.Run{}, registry.ErrNotFound("run", id)
}
func (f *fakeRuns) List(context.Context, map[string][]string) (runs.RunPage, error) {
	return runs.RunPage{}, nil
}
func (f *fakeRuns) Do(context.Context, string, runs.Op, registry.Actor, bool, string, []runs.RunInput) (runs.Run, error) {
	return runs.Run{}, nil
}
func (f *fakeRuns) Delete(context.Context, string, registry.Actor, string, bool, bool) error {
	return nil
}
func (f *fakeRuns) Artifacts(_ context.Context, id string) ([]runs.Artifact, error) {
	if _, err := f.Get(context.Background(), id, ""); err != nil {
		return nil, err
	}
	return []runs.Artifact{{ID: "local/01ART", Name: "out/result.txt", MediaType: "text/plain", Size: 3}}, nil
}
func (f *fakeRuns) Artifact(_ context.Context, id, name string) (runs.Artifact, io.ReadSeekCloser, error) {
	arts, _ := f.Artifacts(context.Background(), id)
	return arts[0], nopCloser{strings.NewReader("abc")}, nil
}
func (f *fakeRuns) Results(_ context.Context, id string, w io.Writer) error {
	r, err := f.Get(context.Background(), id, "")
	if err != nil {
		return err
	}
	if r.State != runs.Succeeded {
		return provgraph.Errorf(provgraph.Conflict, "run %s is %s", id, r.State)
	}
	_, err = w.Write([]byte("tar.gz"))
	return err
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

type fakeRecords struct{ studies map[string]registry.Record }

func (f *fakeRecords) Create(context.Context, registry.Kind, []byte, registry.Actor, string) (registry.Record, error) {
	return registry.Record{}, nil
}
func (f *fakeRecords) Update(context.Context, registry.Kind, string, []byte, registry.Actor, string) (registry.Record, error) {
	return registry.Record{}, nil
}
func (f *fakeRecords) Get(_ context.Context, _ registry.Kind, id string, _ int, _ registry.Viewer) (registry.Record, error) {
	if r, ok := f.studies[id]; ok {
		return r, nil
	}
	return registry.Record{}, registry.ErrNotFound("study", id)
}
func (f *fakeRecords) List(context.Context, registry.ListQuery) (registry.Page, error) {
	return registry.Page{}, nil
}

type fakeAuth map[string]auth.Role

func (f fakeAuth) Authenticate(_ context.Context, token string) (auth.Principal, error) {
	if role, ok := f[token]; ok {
		return auth.Principal{Subject: "t:" + token, Role: role}, nil
	}
	return auth.Principal{}, provgraph.Errorf(provgraph.Unauthorized, "no")
}

func study(t *testing.T, name string, g Group) registry.Record {
	doc, err := StudyDoc(name, g)
	if err != nil {
		t.Fatal(err)
	}
	return registry.Record{Record: doc}
}

// Downloads answer without a token only for a run of a group marked public; with a token,
// as a reader's read; the archive only of a run that succeeded (else 404, as flowserv).
// Ids arrive with their '/' raw, so the run id and the file id are read from the right.
func TestDownloads(t *testing.T) {
	rs := &fakeRuns{runs: map[string]runs.Run{
		"local/01OPEN":   {ID: "local/01OPEN", State: runs.Succeeded, StudyID: "local/01PUB"},
		"local/01ACTIVE": {ID: "local/01ACTIVE", State: runs.Running, StudyID: "local/01PUB"},
		"local/01CLOSED": {ID: "local/01CLOSED", State: runs.Succeeded, StudyID: "local/01PRIV"},
		"local/01LOOSE":  {ID: "local/01LOOSE", State: runs.Succeeded},
		"local/01PLAIN":  {ID: "local/01PLAIN", State: runs.Succeeded, StudyID: "local/01STUDY"},
	}}
	recs := &fakeRecords{studies: map[string]registry.Record{
		"local/01PUB":   study(t, "pub", Group{Workflow: "local/01WF", Config: map[string]any{"public_downloads": true}}),
		"local/01PRIV":  study(t, "priv", Group{Workflow: "local/01WF"}),
		"local/01STUDY": {Record: []byte(`{"title":"s","description":"public_downloads: true"}`)},
	}}
	r := mux.NewRouter()
	for _, rt := range API(Config{Runs: rs, Records: recs, Auth: fakeAuth{"reader": auth.Reader, "none": auth.Role("")}}).Routes {
		r.HandleFunc(rt.Path, rt.Handler).Methods(rt.Method)
	}
	get := func(path string, headers ...string) (int, string) {
		req := httptest.NewRequest("GET", Prefix+path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	cases := []struct {
		path    string
		headers []string
		status  int
		body    string
	}{
		{"/runs/local/01OPEN/downloads/archive", nil, 200, "tar.gz"},
		{"/runs/local/01OPEN/downloads/files/local/01ART", nil, 200, "abc"},
		{"/runs/local%2F01OPEN/downloads/files/local%2F01ART", nil, 200, "abc"},
		{"/runs/local/01OPEN/downloads/files/local/01OTHER", nil, 404, ""},
		{"/runs/local/01ACTIVE/downloads/archive", nil, 404, ""},
		{"/runs/local/01CLOSED/downloads/archive", nil, 401, ""},
		{"/runs/local/01CLOSED/downloads/files/local/01ART", nil, 401, ""},
		{"/runs/local/01LOOSE/downloads/archive", nil, 401, ""},
		{"/runs/local/01PLAIN/downloads/archive", nil, 401, ""},
		{"/runs/local/01NONE/downloads/archive", nil, 401, ""},
		{"/runs/local/01CLOSED/downloads/archive", []string{"api_key", "reader"}, 200, "tar.gz"},
		{"/runs/local/01CLOSED/downloads/files/local/01ART", []string{"Authorization", "Bearer reader"}, 200, "abc"},
		{"/runs/local/01CLOSED/downloads/archive", []string{"api_key", "wrong"}, 401, ""},
		{"/runs/local/01OPEN/downloads/archive", []string{"api_key", "wrong"}, 401, ""},
		{"/runs/local/01CLOSED/downloads/archive", []string{"Authorization", "Basic reader"}, 401, ""},
		{"/runs/local/01CLOSED/downloads/archive", []string{"api_key", "none"}, 403, ""},
		{"/runs/local/01NONE/downloads/archive", []string{"api_key", "reader"}, 404, ""},
	}
	for _, c := range cases {
		status, body := get(c.path, c.headers...)
		if status != c.status || (c.body != "" && body != c.body) {
			t.Errorf("%s %v: %d %q, want %d %q", c.path, c.headers, status, body, c.status, c.body)
		}
		if status != 200 && !bytes.Contains([]byte(body), []byte(`"message"`)) {
			t.Errorf("%s: an error not in flowserv's shape: %s", c.path, body)
		}
	}
}
