package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"provgraph"
	"provgraph/auth"
	"provgraph/compat"
)

// A foreign API mounted on the server: its ids arrive the same whether the client escapes
// their '/' or not, its failures (authentication included) speak its own shape, its
// bodies are bounded, and the OpenAPI document leaves it to its own specification.
func TestForeignAPIIsMountedWithTheServersRules(t *testing.T) {
	s, _ := mustServer(t, fakeRegistry{}, fakeHealth{})
	s.Foreign = []compat.API{{
		Name: "wire",
		Fail: func(w http.ResponseWriter, r *http.Request, err error) {
			var e *provgraph.Error
			code := "internal"
			if ok := asError(err, &e); ok {
				code = string(e.Code)
			}
			w.WriteHeader(599)
			fmt.Fprintf(w, "wire error: %s", code)
		},
		Routes: []compat.Route{
			{Method: "GET", Path: "/wire/v1/things/" + idPattern, Role: auth.Reader, Handler: func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "%s by %s", mux.Vars(r)["id"], compat.Caller(r).Subject)
			}},
			{Method: "POST", Path: "/wire/v1/things", Role: auth.Writer, Handler: func(w http.ResponseWriter, r *http.Request) {
				if _, err := io.ReadAll(r.Body); err != nil {
					w.WriteHeader(http.StatusRequestEntityTooLarge)
				}
			}},
			{Method: "GET", Path: "/wire/v1/info", Public: true, Handler: func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "info") }},
		},
	}}
	s.Metrics = prometheus.NewRegistry() // mustServer's Handler registered the first
	h := s.Handler()
	for _, path := range []string{"/wire/v1/things/local/01J0", "/wire/v1/things/local%2F01J0"} {
		if w := do(h, "GET", path, readerToken, ""); w.Code != 200 || w.Body.String() != "local/01J0 by t:reader" {
			t.Errorf("%s: %d %q", path, w.Code, w.Body.String())
		}
	}
	if w := do(h, "GET", "/wire/v1/things/x", "", ""); w.Code != 599 || w.Body.String() != "wire error: unauthorized" {
		t.Errorf("no token: %d %q", w.Code, w.Body.String())
	}
	if w := do(h, "POST", "/wire/v1/things", readerToken, "{}"); w.Code != 599 || w.Body.String() != "wire error: forbidden" {
		t.Errorf("reader writes: %d %q", w.Code, w.Body.String())
	}
	if w := do(h, "POST", "/wire/v1/things", writerToken, strings.Repeat("x", 4096)); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over MaxBody: %d", w.Code)
	}
	if w := do(h, "GET", "/wire/v1/info", "", ""); w.Code != 200 || w.Body.String() != "info" {
		t.Errorf("public: %d %q", w.Code, w.Body.String())
	}
	doc, err := json.Marshal(s.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), `"/wire/`) {
		t.Error("the OpenAPI document describes the foreign API")
	}
}

func asError(err error, e **provgraph.Error) bool {
	x, ok := err.(*provgraph.Error)
	*e = x
	return ok
}

// The work of a request is bounded by its deadline, not only its connection: a handler
// waiting on a database that does not answer is released when the time is up. Transfer
// routes get the long deadline instead.
func TestRequestWorkEndsAtTheDeadline(t *testing.T) {
	s, _ := mustServer(t, fakeRegistry{}, fakeHealth{})
	s.RequestTimeout = 100 * time.Millisecond
	wait := func(w http.ResponseWriter, r *http.Request) {
		deadline, ok := r.Context().Deadline()
		if !ok {
			fmt.Fprint(w, "no deadline")
			return
		}
		select {
		case <-r.Context().Done():
			fmt.Fprintf(w, "released after at most %s", time.Until(deadline).Round(time.Hour))
		case <-time.After(10 * time.Second):
			fmt.Fprint(w, "still waiting")
		}
	}
	s.Foreign = []compat.API{{Name: "wire", Fail: func(w http.ResponseWriter, r *http.Request, err error) {}, Routes: []compat.Route{
		{Method: "GET", Path: "/wire/wait", Role: auth.Reader, Handler: wait},
		{Method: "GET", Path: "/wire/transfer", Role: auth.Reader, Transfer: true, Handler: func(w http.ResponseWriter, r *http.Request) {
			d, ok := r.Context().Deadline()
			fmt.Fprint(w, ok && time.Until(d) < time.Minute)
		}},
	}}}
	s.Metrics = prometheus.NewRegistry()
	h := s.Handler()
	if w := do(h, "GET", "/wire/wait", readerToken, ""); w.Body.String() != "released after at most 0s" {
		t.Fatalf("got %q", w.Body.String())
	}
	if w := do(h, "GET", "/wire/transfer", readerToken, ""); w.Body.String() != "false" {
		t.Fatalf("a transfer route got the short deadline: %q", w.Body.String())
	}
}

// A foreign API whose client sends its token in a header of its own (flowserv's api_key)
// is authenticated by it on that API's routes, and only there; Authorization still wins.
func TestForeignTokenHeader(t *testing.T) {
	s, _ := mustServer(t, fakeRegistry{}, fakeHealth{})
	who := func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, compat.Caller(r).Subject) }
	fail := func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(599) }
	s.Foreign = []compat.API{
		{Name: "keyed", TokenHeader: "api_key", Fail: fail, Routes: []compat.Route{
			{Method: "GET", Path: "/keyed/v1/me", Role: auth.Reader, Handler: who},
		}},
		{Name: "plain", Fail: fail, Routes: []compat.Route{
			{Method: "GET", Path: "/plain/v1/me", Role: auth.Reader, Handler: who},
		}},
	}
	s.Metrics = prometheus.NewRegistry()
	h := s.Handler()
	get := func(path string, headers map[string]string) (int, string) {
		req := httptest.NewRequest("GET", path, nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	if code, body := get("/keyed/v1/me", map[string]string{"api_key": readerToken}); code != 200 || body != "t:reader" {
		t.Errorf("api_key: %d %q", code, body)
	}
	if code, body := get("/keyed/v1/me", map[string]string{"api_key": readerToken, "Authorization": "Bearer " + writerToken}); code != 200 || body != "t:writer" {
		t.Errorf("Authorization beside api_key: %d %q", code, body)
	}
	if code, _ := get("/keyed/v1/me", map[string]string{"api_key": "not-a-token"}); code != 599 {
		t.Errorf("a wrong api_key: %d", code)
	}
	if code, _ := get("/plain/v1/me", map[string]string{"api_key": readerToken}); code != 599 {
		t.Errorf("api_key on an API that does not name it: %d", code)
	}
}
