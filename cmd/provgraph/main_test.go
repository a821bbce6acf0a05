package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"provgraph/auth"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

const testAdmin = "e2e-admin-token-0123456789"

func neo4jURI() string {
	if u := os.Getenv("PROVGRAPH_NEO4J_URI"); u != "" {
		return u
	}
	return "bolt://127.0.0.1:7687"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mustMain starts the real server on a free loopback port against the shared Neo4j.
func mustMain(t testing.TB, edit func(*Config)) *Main {
	t.Helper()
	cfg, bad := envConfig(func(string) string { return "" })
	cfg.Addr = "127.0.0.1:0"
	cfg.Neo4jURI = neo4jURI()
	cfg.AdminToken = testAdmin
	cfg.TokenFile = filepath.Join(t.TempDir(), "tokens.json")
	cfg.IDPrefix = "e2e-" + randomHex(4)
	cfg.MaxBodyBytes = 64 << 10
	if edit != nil {
		edit(&cfg)
	}
	bad = append(bad, cfg.Check()...)
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	m := &Main{Config: cfg, Logger: testLogger(), Out: io.Discard}
	if err := m.Run(t.Context()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

type client struct {
	t     testing.TB
	base  string
	token string
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("status %d, body %q: %v", r.Status, r.Body, err)
	}
	return v
}

// ErrorFields returns the paths of a structured error body.
func (r response) ErrorFields(t testing.TB) []string {
	t.Helper()
	e, ok := r.JSON(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("not an error body: %s", r.Body)
	}
	var out []string
	fs, _ := e["fields"].([]any)
	for _, f := range fs {
		out = append(out, f.(map[string]any)["path"].(string))
	}
	return out
}

func (c client) do(method, path string, body any, headers ...string) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (c client) mustCreate(route string, doc any) string {
	c.t.Helper()
	r := c.do("POST", "/api/v1/"+route, doc)
	if r.Status != 201 {
		c.t.Fatalf("create %s: %d %s", route, r.Status, r.Body)
	}
	id := r.JSON(c.t)["id"].(string)
	if r.Header.Get("Location") != "/api/v1/"+route+"/"+id {
		c.t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	return id
}

// fixture registers one of every kind, wired together as a real workflow would be.
type fixture struct {
	org, person, model, dataset, inTemplate, outTemplate, workflow, study string
}

func mustFixture(c client) fixture {
	var f fixture
	f.org = c.mustCreate("organisations", map[string]any{"display_name": "CSIRO", "name": "CSIRO", "ror": "https://ror.org/03qn8fb07"})
	f.person = c.mustCreate("people", map[string]any{"display_name": "Ada", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org", "orcid": "https://orcid.org/0000-0002-1825-0097"})
	f.model = c.mustCreate("models", map[string]any{"display_name": "Reef model", "name": "reefmod", "description": "a coral model", "documentation_url": "https://example.org/doc", "source_url": "https://example.org/src"})
	f.dataset = c.mustCreate("datasets", map[string]any{"display_name": "Reef survey", "name": "survey", "description": "d", "location": "s3://bucket/survey", "license": "https://creativecommons.org/licenses/by/4.0/", "publisher_id": f.org, "created_date": "2024-01-01", "published_date": "2024-02-01", "keywords": []string{"reef"}})
	tmpl := func(name string) map[string]any {
		return map[string]any{"display_name": name, "description": "d",
			"defined_resources":  []any{map[string]any{"path": "params.json", "usage_type": "PARAMETER_FILE"}},
			"deferred_resources": []any{map[string]any{"key": "forcing", "usage_type": "FORCING_DATA", "optional": false}}}
	}
	f.inTemplate = c.mustCreate("dataset-templates", tmpl("inputs"))
	f.outTemplate = c.mustCreate("dataset-templates", tmpl("outputs"))
	f.workflow = c.mustCreate("workflow-templates", map[string]any{"display_name": "Reef run", "software_id": f.model,
		"input_templates": []any{map[string]any{"template_id": f.inTemplate}}, "output_templates": []any{map[string]any{"template_id": f.outTemplate, "optional": true}},
		"annotations": map[string]any{"required": []string{"scenario"}, "optional": []string{"notes"}}})
	f.study = c.mustCreate("studies", map[string]any{"title": "Reef study", "description": "d"})
	return f
}

func TestEntityLifecycleOverHTTP(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(c)

	r := c.do("GET", "/api/v1/workflow-templates/"+f.workflow, nil)
	if r.Status != 200 || r.JSON(t)["kind"] != "workflow-template" || r.JSON(t)["version"] != float64(1) {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	// The model cannot go while the workflow template runs it.
	r = c.do("DELETE", "/api/v1/models/"+f.model+"?reason=retired", nil)
	if r.Status != 409 || !strings.Contains(string(r.Body), f.workflow) {
		t.Fatalf("delete depended-on model: %d %s", r.Status, r.Body)
	}
	// Update needs a reason, and makes version 2.
	doc := map[string]any{"display_name": "CSIRO Australia", "name": "CSIRO", "ror": "https://ror.org/03qn8fb07"}
	if r = c.do("PUT", "/api/v1/organisations/"+f.org, doc); r.Status != 422 || strings.Join(r.ErrorFields(t), ",") != "reason" {
		t.Fatalf("update without reason: %d %s", r.Status, r.Body)
	}
	if r = c.do("PUT", "/api/v1/organisations/"+f.org+"?reason=renamed", doc); r.Status != 200 || r.JSON(t)["version"] != float64(2) {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}
	if r = c.do("GET", "/api/v1/organisations/"+f.org+"?version=1", nil); r.Status != 200 || r.JSON(t)["name"] != "CSIRO" {
		t.Fatalf("version 1: %d %s", r.Status, r.Body)
	}
	r = c.do("GET", "/api/v1/organisations/"+f.org+"/history", nil)
	if vs, _ := r.JSON(t)["versions"].([]any); r.Status != 200 || len(vs) != 2 {
		t.Fatalf("history: %d %s", r.Status, r.Body)
	}
	// Lists filter by kind-specific fields.
	r = c.do("GET", "/api/v1/datasets?publisher_id="+f.org+"&keyword=reef", nil)
	if recs, _ := r.JSON(t)["records"].([]any); r.Status != 200 || len(recs) != 1 {
		t.Fatalf("filtered list: %d %s", r.Status, r.Body)
	}
	// The study goes; its history stays.
	if r = c.do("DELETE", "/api/v1/studies/"+f.study+"?reason=closed", nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r = c.do("GET", "/api/v1/studies/"+f.study, nil); r.Status != 404 {
		t.Fatalf("deleted study: %d", r.Status)
	}
	if r = c.do("GET", "/api/v1/studies/"+f.study+"/history", nil); r.Status != 200 {
		t.Fatalf("deleted study history: %d", r.Status)
	}
}

// TestBadInputChangesNothing sends a table of bad bodies to every create route and checks
// each gets a structured error naming the field, and that nothing was written.
func TestBadInputChangesNothing(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(c)
	injection := `x"}) MATCH (n) DETACH DELETE n //`
	tests := []struct {
		name, route string
		body        string
		status      int
		fields      []string
	}{
		{"malformed json", "studies", `{"title":`, 422, []string{""}},
		{"not an object", "studies", `[1,2]`, 422, []string{""}},
		{"empty body", "studies", ``, 422, []string{""}},
		{"wrong types", "people", `{"display_name":1,"first_name":true,"last_name":[],"email":{}}`, 422, []string{"/display_name", "/email", "/first_name", "/last_name"}},
		{"unknown field", "organisations", `{"display_name":"a","name":"a","admin":true}`, 422, []string{"/admin"}},
		{"duplicate key", "studies", `{"title":"a","title":"b","description":"d"}`, 422, []string{"/title"}},
		{"missing reference", "datasets", fmt.Sprintf(`{"display_name":"d","name":"d","description":"d","location":"s3://b/k","license":"https://l.org/x","publisher_id":"%s/01J0000000000000000000000A","created_date":"2024-01-01","published_date":"2024-01-01"}`, m.Config.IDPrefix), 422, []string{"/publisher_id"}},
		{"reference of wrong kind", "workflow-templates", fmt.Sprintf(`{"display_name":"w","software_id":%q}`, f.dataset), 422, []string{"/software_id"}},
		{"injection in a reference", "workflow-templates", fmt.Sprintf(`{"display_name":"w","software_id":%q}`, injection), 422, []string{"/software_id"}},
		{"repeated deferred key", "dataset-templates", `{"display_name":"t","deferred_resources":[{"key":"a","usage_type":"CONFIG_FILE"},{"key":"a","usage_type":"CONFIG_FILE"}]}`, 422, []string{"/deferred_resources/1/key"}},
		{"annotation on both sides", "workflow-templates", fmt.Sprintf(`{"display_name":"w","software_id":%q,"annotations":{"required":["a"],"optional":["a"]}}`, f.model), 422, []string{"/annotations/optional/0"}},
		{"oversize", "studies", `{"title":"` + strings.Repeat("x", 70<<10) + `","description":"d"}`, 413, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do("POST", "/api/v1/"+tt.route, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			got := r.ErrorFields(t)
			if tt.fields != nil && strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Fatalf("fields %q, want %q (%s)", got, tt.fields, r.Body)
			}
		})
	}
	// Injection in every string that reaches Cypher as a value is stored as data.
	tagged := injection + " " + m.Config.IDPrefix
	id := c.mustCreate("studies", map[string]any{"title": tagged, "description": "d"})
	r := c.do("GET", "/api/v1/studies?name="+urlQuery(tagged), nil)
	if recs, _ := r.JSON(t)["records"].([]any); len(recs) != 1 || recs[0].(map[string]any)["id"] != id {
		t.Fatalf("search by injection string: %s", r.Body)
	}
	for _, path := range []string{"/api/v1/studies/" + urlQuery(injection), "/api/v1/studies/a%27%20OR%201=1", "/api/v1/studies?sort=" + urlQuery("name; DROP"), "/api/v1/studies?page_token=" + urlQuery(injection)} {
		if r := c.do("GET", path, nil); r.Status < 400 || r.Status >= 500 {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
	}
	// The fixture is intact: nothing refused above was written.
	for route, id := range map[string]string{"organisations": f.org, "models": f.model, "datasets": f.dataset, "workflow-templates": f.workflow} {
		if r := c.do("GET", "/api/v1/"+route+"/"+id+"/history", nil); r.Status != 200 || len(r.JSON(t)["versions"].([]any)) != 1 {
			t.Fatalf("%s %s changed: %s", route, id, r.Body)
		}
	}
	r = c.do("GET", "/api/v1/workflow-templates?name=w&software_id="+f.model, nil)
	if recs, _ := r.JSON(t)["records"].([]any); len(recs) != 0 {
		t.Fatalf("a refused workflow template was written: %s", r.Body)
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer("%", "%25", " ", "%20", `"`, "%22", "{", "%7B", "}", "%7D", "/", "%2F", "(", "%28", ")", "%29", ";", "%3B", "#", "%23", "&", "%26", "'", "%27").Replace(s)
}

func TestIdempotencyKeyOverHTTP(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	key := randomHex(8)
	const n = 20
	bodies := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.do("POST", "/api/v1/studies", `{"title":"idem","description":"d"}`, "Idempotency-Key", key)
			var v map[string]any
			_ = json.Unmarshal(r.Body, &v)
			bodies[i] = fmt.Sprintf("%d %v %v", r.Status, v["id"], v["version"])
		}()
	}
	wg.Wait()
	for i := range n {
		if bodies[i] != bodies[0] || !strings.HasPrefix(bodies[0], "201 ") {
			t.Fatalf("answer %d %q differs from %q", i, bodies[i], bodies[0])
		}
	}
}

func TestConfigMistakesAreOneLine(t *testing.T) {
	env := map[string]string{"PROVGRAPH_ADDR": "nowhere", "PROVGRAPH_NEO4J_URI": "http://x", "PROVGRAPH_ID_PREFIX": "/bad", "PROVGRAPH_OIDC_ISSUER": "https://i",
		"PROVGRAPH_RECORD_CACHE": "-1", "PROVGRAPH_REQUEST_TIMEOUT": "1ms", "PROVGRAPH_TRANSFER_TIMEOUT": "forever"}
	var out, errb bytes.Buffer
	cmd := rootCmd(&out, &errb, func(k string) string { return env[k] })
	cmd.SetArgs([]string{"serve"})
	got := cmd.Execute()
	if got == nil {
		t.Fatal("bad configuration accepted")
	}
	msg := got.Error()
	if strings.Contains(msg, "\n") {
		t.Fatalf("not one line: %q", msg)
	}
	for _, want := range []string{"PROVGRAPH_ADDR", "PROVGRAPH_NEO4J_URI", "PROVGRAPH_ID_PREFIX", "PROVGRAPH_OIDC_", "PROVGRAPH_RECORD_CACHE", "PROVGRAPH_REQUEST_TIMEOUT", "PROVGRAPH_TRANSFER_TIMEOUT"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not name %s", msg, want)
		}
	}
}

func TestNeo4jUnreachableAtStart(t *testing.T) {
	port := freePort(t)
	cfg, _ := envConfig(func(string) string { return "" })
	cfg.Addr = "127.0.0.1:0"
	cfg.Neo4jURI = fmt.Sprintf("bolt://127.0.0.1:%d", port)
	cfg.Neo4jWait = 3 * time.Second
	cfg.TokenFile = filepath.Join(t.TempDir(), "tokens.json")
	cfg.Check()
	m := &Main{Config: cfg, Logger: testLogger(), Out: io.Discard}
	start := time.Now()
	err := m.Run(t.Context())
	if err == nil {
		m.Close()
		t.Fatal("started without Neo4j")
	}
	if time.Since(start) > 60*time.Second || !strings.Contains(err.Error(), "not reachable") {
		t.Fatalf("after %s: %v", time.Since(start), err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// neo4jProcess is a private Neo4j for a test that stops and starts the database.
type neo4jProcess struct {
	t   *testing.T
	env []string
}

func (p neo4jProcess) run(action string) {
	p.t.Helper()
	cmd := exec.Command("../../scripts/neo4j/neo4j.sh", action)
	cmd.Env = append(os.Environ(), p.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("neo4j %s: %v\n%s", action, err, out)
	}
}

func TestServerSurvivesNeo4jRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own Neo4j")
	}
	port := freePort(t)
	home := t.TempDir()
	db := neo4jProcess{t: t, env: []string{fmt.Sprintf("NEO4J_BOLT_PORT=%d", port), "NEO4J_HOME=" + filepath.Join(home, "neo4j"), "NEO4J_HEAP=512m", "NEO4J_PAGECACHE_MB=64"}}
	db.run("start")
	t.Cleanup(func() { db.run("stop") })
	m := mustMain(t, func(c *Config) { c.Neo4jURI = fmt.Sprintf("bolt://127.0.0.1:%d", port) })
	c := client{t: t, base: m.URL, token: testAdmin}
	id := c.mustCreate("studies", map[string]any{"title": "before", "description": "d"})

	db.run("stop")
	r := c.do("GET", "/api/v1/studies/"+id, nil)
	if r.Status != 503 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("with Neo4j stopped: %d %v %s", r.Status, r.Header, r.Body)
	}
	if r := c.do("GET", "/readyz", nil); r.Status != 503 {
		t.Fatalf("readyz with Neo4j stopped: %d", r.Status)
	}
	db.run("start")
	deadline := time.Now().Add(60 * time.Second)
	for {
		r = c.do("GET", "/api/v1/studies/"+id, nil)
		if r.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after Neo4j came back: %d %s", r.Status, r.Body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if r.JSON(t)["name"] != "before" {
		t.Fatalf("data lost across restart: %s", r.Body)
	}
	if r := c.do("GET", "/readyz", nil); r.Status != 200 {
		t.Fatalf("readyz after recovery: %d", r.Status)
	}
}

// TestShutdownFinishesRequestsInFlight starts a request whose body is still arriving,
// shuts down, then completes the body: the request must still succeed.
func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	m := mustMain(t, nil)
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", m.URL+"/api/v1/studies", pr)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		res.Body.Close()
		done <- result{status: res.StatusCode}
	}()
	io.WriteString(pw, `{"title":"in flight",`)
	time.Sleep(200 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	time.Sleep(200 * time.Millisecond)
	io.WriteString(pw, `"description":"d"}`)
	pw.Close()
	got := <-done
	if got.err != nil || got.status != 201 {
		t.Fatalf("request in flight during shutdown: %+v", got)
	}
	if err := <-closed; err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := http.Get(m.URL + "/healthz"); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

// TestBadInputOnEveryRoute walks every kind's routes with the bad inputs each can get.
func TestBadInputOnEveryRoute(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	study := c.mustCreate("studies", map[string]any{"title": "s", "description": "d"})
	unknown := m.Config.IDPrefix + "/01J0000000000000000000000A"
	for _, route := range []string{"people", "organisations", "models", "datasets", "dataset-templates", "workflow-templates", "studies"} {
		t.Run(route, func(t *testing.T) {
			checks := []struct {
				method, path, body string
				status             int
			}{
				{"POST", "/api/v1/" + route, `{}`, 422},
				{"POST", "/api/v1/" + route, `{"unknown":1}`, 422},
				{"POST", "/api/v1/" + route, `null`, 422},
				{"GET", "/api/v1/" + route + "/" + unknown, "", 404},
				{"GET", "/api/v1/" + route + "/not-an-id", "", 404},
				{"GET", "/api/v1/" + route + "/" + unknown + "/history", "", 404},
				{"PUT", "/api/v1/" + route + "/" + unknown, `{}`, 422},
				{"DELETE", "/api/v1/" + route + "/" + unknown, "", 404},
				{"GET", "/api/v1/" + route + "?page_size=5000", "", 400},
				{"GET", "/api/v1/" + route + "?sort=password", "", 400},
				{"GET", "/api/v1/" + route + "?colour=red", "", 400},
				{"GET", "/api/v1/" + route + "?page_token=AAAA", "", 400},
				{"PATCH", "/api/v1/" + route, `{}`, 405},
			}
			if route != "studies" {
				// A record of another kind is not found under this kind.
				checks = append(checks, struct {
					method, path, body string
					status             int
				}{"GET", "/api/v1/" + route + "/" + study, "", 404})
			}
			for _, ck := range checks {
				r := c.do(ck.method, ck.path, ck.body)
				if r.Status != ck.status {
					t.Errorf("%s %s: %d, want %d: %s", ck.method, ck.path, r.Status, ck.status, r.Body)
					continue
				}
				if e, ok := r.JSON(t)["error"].(map[string]any); !ok || e["message"] == "" || e["request_id"] == "" {
					t.Errorf("%s %s: not a structured error: %s", ck.method, ck.path, r.Body)
				}
			}
		})
	}
}

func TestRegisterModelRunOverHTTP(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(c)
	out := c.mustCreate("datasets", map[string]any{"display_name": "Reef forecast", "name": "forecast", "description": "d", "location": "s3://bucket/forecast", "license": "https://creativecommons.org/licenses/by/4.0/", "publisher_id": f.org, "created_date": "2024-03-01", "published_date": "2024-03-02"})
	run := map[string]any{
		"workflow_template_id": f.workflow, "display_name": "run 1", "description": "first run", "study_id": f.study,
		"inputs":       []any{map[string]any{"dataset_template_id": f.inTemplate, "dataset_id": f.dataset, "resources": map[string]string{"forcing": "forcing.nc"}}},
		"outputs":      []any{map[string]any{"dataset_template_id": f.outTemplate, "dataset_id": out, "resources": map[string]string{"forcing": "f.nc"}}},
		"annotations":  map[string]string{"scenario": "ssp245"},
		"associations": map[string]string{"modeller_id": f.person, "requesting_organisation_id": f.org},
		"start_time":   "2024-03-01T00:00:00Z", "end_time": 1709254800,
	}
	id := c.mustCreate("model-runs", run)
	if r := c.do("GET", "/api/v1/model-runs/"+id, nil); r.Status != 200 || r.JSON(t)["kind"] != "model-run" {
		t.Fatalf("get run: %d %s", r.Status, r.Body)
	}
	// Swapping sides and dropping the annotation: every failure named, nothing written.
	run["inputs"], run["outputs"] = run["outputs"], run["inputs"]
	run["annotations"] = map[string]string{}
	r := c.do("POST", "/api/v1/model-runs", run)
	want := "/annotations/scenario,/inputs,/inputs/0/dataset_template_id,/outputs/0/dataset_template_id"
	if r.Status != 422 || strings.Join(r.ErrorFields(t), ",") != want {
		t.Fatalf("bad run: %d %v, want %s", r.Status, r.ErrorFields(t), want)
	}
	// Its PROV document, by Accept and by ?format.
	for _, tc := range []struct{ accept, query, ctype, want string }{
		{"text/turtle", "", "text/turtle", "prov:qualifiedUsage"},
		{"application/ld+json", "", "application/ld+json", "@context"},
		{"", "?format=provjson&depth=2", "application/json", `"wasGeneratedBy"`},
	} {
		r := c.do("GET", "/api/v1/prov/"+id+tc.query, nil, "Accept", tc.accept)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(r.Body), tc.want) {
			t.Fatalf("prov %q %q: %d %s %.300s", tc.accept, tc.query, r.Status, r.Header.Get("Content-Type"), r.Body)
		}
	}
	for _, q := range []string{"?format=xml", "?depth=-1", "?depth=99"} {
		if r := c.do("GET", "/api/v1/prov/"+id+q, nil); r.Status != 400 && r.Status != 422 {
			t.Fatalf("prov %s: %d", q, r.Status)
		}
	}
	if r := c.do("GET", "/api/v1/prov/"+m.Config.IDPrefix+"/01J0000000000000000000000A", nil); r.Status != 404 {
		t.Fatalf("prov of unknown id: %d", r.Status)
	}
	r = c.do("GET", "/api/v1/model-runs?workflow_template_id="+f.workflow, nil)
	if recs, _ := r.JSON(t)["records"].([]any); len(recs) != 1 {
		t.Fatalf("a refused run was written: %s", r.Body)
	}
}

// tokenClient is a client with a new local token of role, in groups.
func tokenClient(t testing.TB, m *Main, role auth.Role, name string, groups ...string) client {
	t.Helper()
	tok, _, err := auth.CreateLocalToken(m.Config.TokenFile, name, role, groups...)
	if err != nil {
		t.Fatal(err)
	}
	return client{t: t, base: m.URL, token: tok}
}

func testLogger() zerolog.Logger {
	if os.Getenv("PROVGRAPH_TEST_LOG") != "" {
		return zerolog.New(os.Stderr)
	}
	return zerolog.New(io.Discard)
}
