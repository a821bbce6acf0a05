package compat

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"provgraph"
)

func TestResolve(t *testing.T) {
	for _, c := range []struct {
		err     error
		status  int
		header  string
		message string
	}{
		{provgraph.Errorf(provgraph.Invalid, "bad"), 400, "", "bad"},
		{&provgraph.Error{Code: provgraph.Invalid, Message: "slow", Status: http.StatusRequestTimeout}, 408, "", "slow"},
		{&provgraph.Error{Code: provgraph.Invalid, Message: "type", Status: http.StatusUnsupportedMediaType}, 415, "", "type"},
		{&provgraph.Error{Code: provgraph.Invalid, Message: "schema", Status: http.StatusUnprocessableEntity}, 400, "", "schema"},
		{provgraph.Errorf(provgraph.NotFound, "gone"), 404, "", "gone"},
		{provgraph.Errorf(provgraph.Unauthorized, "who"), 401, "WWW-Authenticate", "who"},
		{provgraph.Errorf(provgraph.TooMany, "slow down"), 429, "Retry-After", "slow down"},
		{provgraph.Errorf(provgraph.Unavailable, "busy"), 503, "Retry-After", "busy"},
		{provgraph.Wrap(provgraph.Internal, errors.New("secret path"), "database error"), 500, "", "internal error"},
		{errors.New("not ours"), 500, "", "internal error"},
	} {
		w := httptest.NewRecorder()
		f := Resolve(w, httptest.NewRequest("GET", "/", nil), c.err, "test")
		if f.Status != c.status || f.Message != c.message || (c.header != "" && w.Header().Get(c.header) == "") {
			t.Errorf("%v: got %d %q %v", c.err, f.Status, f.Message, w.Header())
		}
	}
}

func TestWriteJSONEncodesFirst(t *testing.T) {
	w := httptest.NewRecorder()
	WriteJSON(w, nil, 200, map[string]any{"x": func() {}}, []byte(`{"error":"internal"}`))
	if w.Code != 500 || w.Body.String() != "{\"error\":\"internal\"}\n" {
		t.Fatalf("got %d %q", w.Code, w.Body.String())
	}
}
