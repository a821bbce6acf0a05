package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"provgraph/auth"
	"provgraph/prov"
)

func TestExportCommand(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(c)
	out := filepath.Join(t.TempDir(), "graph.prov.json")
	var stdout, stderr bytes.Buffer
	env := map[string]string{"PROVGRAPH_NEO4J_URI": neo4jURI(), "PROVGRAPH_BASE_IRI": m.Config.BaseIRI}
	cmd := rootCmd(&stdout, &stderr, func(k string) string { return env[k] })
	cmd.SetArgs([]string{"export", "--format", "provjson", "-o", out})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("export: %v\n%s", err, stderr.String())
	}
	// Not a terminal: no bar, one summary line.
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "exported ") {
		t.Fatalf("stderr %q", stderr.String())
	}
	t.Log(stderr.String())
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatal("not JSON")
	}
	for _, id := range []string{f.org, f.person, f.model, f.dataset, f.inTemplate, f.outTemplate, f.workflow, f.study} {
		if n := bytes.Count(b, []byte(`"id:`+prov.EscapeID(id)+`": {`)); n != 1 {
			t.Errorf("%s appears %d times", id, n)
		}
	}
	cmd = rootCmd(&stdout, &stderr, func(k string) string { return env[k] })
	cmd.SetArgs([]string{"export", "--format", "xml"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Fatalf("bad format: %v", err)
	}
}

func TestExportOverHTTP(t *testing.T) {
	m := mustMain(t, nil)
	admin := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(admin)
	token := func(role auth.Role) client {
		tok, _, err := auth.CreateLocalToken(m.Config.TokenFile, string(role), role)
		if err != nil {
			t.Fatal(err)
		}
		return client{t: t, base: m.URL, token: tok}
	}
	reader, writer := token(auth.Reader), token(auth.Writer)

	// Streamed: the first bytes arrive long before a whole-graph export could be done;
	// what it holds is checked by TestExportCommand and the graph tests.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", m.URL+"/api/v1/prov", nil)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	req.Header.Set("Accept", "text/turtle")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/turtle") || len(res.TransferEncoding) == 0 || !hasKey(res.Trailer, "Export-Error") {
		t.Fatalf("export: %d %v %v", res.StatusCode, res.Header, res.TransferEncoding)
	}
	head := make([]byte, 64<<10)
	n, err := io.ReadFull(res.Body, head) // all of it on a small database, the start of a big one
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	if err != nil || !bytes.HasPrefix(head[:n], []byte("@prefix")) || !bytes.Contains(head[:n], []byte(" a prov:")) {
		t.Fatalf("export starts %.200q (%v)", head[:n], err)
	}
	res.Body.Close()
	for _, c := range []client{reader, writer} {
		if r := c.do("GET", "/api/v1/prov", nil); r.Status != 403 {
			t.Fatalf("non-admin export: %d %s", r.Status, r.Body)
		}
	}
	if r := admin.do("GET", "/api/v1/prov?format=xml", nil); r.Status != 400 {
		t.Fatalf("bad format: %d", r.Status)
	}

	// Record IRIs resolve by content negotiation, without following the redirect.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resolve := func(path, accept string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", m.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+reader.token)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Location")
	}
	for _, tc := range []struct{ path, accept, want string }{
		{"/id/" + f.dataset, "text/turtle", "/api/v1/prov/" + f.dataset + "?format=turtle"},
		{"/id/" + f.dataset, "application/ld+json", "/api/v1/prov/" + f.dataset + "?format=jsonld"},
		{"/id/" + f.dataset, "application/json", "/api/v1/datasets/" + f.dataset},
		{"/id/" + f.dataset, "text/html,*/*;q=0.8", "/api/v1/datasets/" + f.dataset},
		{"/id/" + f.dataset, "", "/api/v1/datasets/" + f.dataset},
		{"/id/" + f.workflow, "text/turtle;q=0.9, application/json;q=0.5", "/api/v1/prov/" + f.workflow + "?format=turtle"},
		{"/id/" + f.org + "/versions/1", "application/json", "/api/v1/organisations/" + f.org + "?version=1"},
	} {
		if code, loc := resolve(tc.path, tc.accept); code != 303 || loc != tc.want {
			t.Errorf("%s (Accept %q): %d %q, want 303 %q", tc.path, tc.accept, code, loc, tc.want)
		}
	}
	if r := reader.do("GET", "/id/"+m.Config.IDPrefix+"/01J0000000000000000000000A", nil); r.Status != 404 {
		t.Fatalf("unknown id: %d %s", r.Status, r.Body)
	} else if e, ok := r.JSON(t)["error"].(map[string]any); !ok || e["code"] != "not_found" {
		t.Fatalf("unknown id: %s", r.Body)
	}
	if r := (client{t: t, base: m.URL}).do("GET", "/id/"+f.dataset, nil); r.Status != 401 {
		t.Fatalf("anonymous: %d", r.Status)
	}
}

func hasKey(h http.Header, k string) bool {
	_, ok := h[k]
	return ok
}
