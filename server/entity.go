package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"provgraph"
	"provgraph/auth"
	"provgraph/registry"
)

var (
	errNoRoute  = provgraph.Errorf(provgraph.NotFound, "no such route; see /openapi.json")
	errNoMethod = &provgraph.Error{Code: provgraph.Invalid, Message: "method not allowed on this route", Status: http.StatusMethodNotAllowed}
)

// idPattern lets ids carry their prefix's slashes in the path.
const idPattern = "{id:[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*}"

func (s *Server) entityRoutes(k registry.Kind) []route {
	base := "/api/v1/" + k.Route
	item := base + "/" + idPattern
	var filters []string
	for _, f := range k.Filters {
		filters = append(filters, f.Param)
	}
	var rs []route
	if !k.Custom {
		rs = append(rs,
			route{Method: "POST", Path: base, Role: auth.Writer, Tag: k.Route, Request: k.Name, Status: http.StatusCreated,
				Response: registry.Record{}, Example: requestExamples[k.Name], Links: k.Route, IdempotencyKey: true,
				Summary: "Register a " + k.Name + ". Send Idempotency-Key to make retries safe.", Handler: s.createEntity(k)},
			route{Method: "PUT", Path: item, Role: auth.Writer, Tag: k.Route, Request: k.Name, Status: http.StatusOK, Query: []string{"reason"},
				Response: registry.Record{}, Example: requestExamples[k.Name],
				Summary: "Make a new version of a " + k.Name + " (reason required); it WAS_REVISION_OF the previous one.", Handler: s.updateEntity(k)})
	}
	return append(rs, []route{
		{Method: "GET", Path: base, Role: auth.Reader, Tag: k.Route, Status: http.StatusOK,
			Query: append([]string{"name", "sort", "page_size", "page_token"}, filters...), Response: registry.Page{},
			Summary: "List current " + k.Route + ", paged and sorted.", Handler: s.listEntities(k)},
		{Method: "GET", Path: item + "/history", Role: auth.Reader, Tag: k.Route, Status: http.StatusOK, Response: historyBody{},
			Summary: "Every version of a " + k.Name + ", newest first.", Handler: s.entityHistory(k)},
		{Method: "GET", Path: item, Role: auth.Reader, Tag: k.Route, Status: http.StatusOK, Query: []string{"version"}, Response: registry.Record{},
			Summary: "Fetch a " + k.Name + ": the latest version, or ?version=N.", Handler: s.getEntity(k)},
		{Method: "DELETE", Path: item, Role: auth.Writer, Tag: k.Route, Status: http.StatusNoContent, Query: []string{"reason"},
			Summary: "Invalidate a " + k.Name + " (history kept); refused with 409 while anything depends on it.", Handler: s.deleteEntity(k)},
	}...)
}

func actor(r *http.Request) registry.Actor { return principal(r.Context()).Actor() }

// viewer is what the caller may read: every record for an admin, else the unrestricted
// ones and those restricted to one of its groups.
func viewer(r *http.Request) registry.Viewer { return principal(r.Context()).Viewer() }

func (s *Server) createEntity(k registry.Kind) http.HandlerFunc {
	return s.create(k.Route, func(r *http.Request, body []byte, key string) (registry.Record, error) {
		return s.Registry.Create(r.Context(), k, body, actor(r), key)
	})
}

// create is every POST that registers one record: bounded body, idempotency key, one
// service call, 201 with Location.
func (s *Server) create(route string, call func(r *http.Request, body []byte, key string) (registry.Record, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, key, ok := s.keyedBody(w, r, s.MaxBody)
		if !ok {
			return
		}
		rec, err := call(r, body, key)
		if err != nil {
			writeError(w, r, err)
			return
		}
		w.Header().Set("Location", "/api/v1/"+route+"/"+rec.ID)
		rec.Links = recordLinks(route, rec.ID)
		rec.ProvJSON = nil // links.prov has it; GET of the record carries it
		writeJSON(w, http.StatusCreated, rec)
	}
}

func (s *Server) updateEntity(k registry.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := s.readBody(w, r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		rec, err := s.Registry.Update(r.Context(), k, mux.Vars(r)["id"], body, actor(r), r.URL.Query().Get("reason"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rec)
	}
}

func (s *Server) getEntity(k registry.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		version := 0
		if vs, given := r.URL.Query()["version"]; given {
			n, err := strconv.Atoi(vs[0])
			if err != nil || n < 1 || len(vs) != 1 {
				writeError(w, r, &provgraph.Error{Code: provgraph.Invalid, Status: http.StatusBadRequest, Message: "version must be a positive whole number",
					Fields: []provgraph.FieldError{{Path: "version", Message: "must be a positive whole number"}}})
				return
			}
			version = n
		}
		rec, err := s.Registry.Get(r.Context(), k, mux.Vars(r)["id"], version, viewer(r))
		if err != nil {
			writeError(w, r, err)
			return
		}
		rec.Links = recordLinks(k.Route, rec.ID)
		writeJSON(w, http.StatusOK, rec)
	}
}

func (s *Server) entityHistory(k registry.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		recs, err := s.Registry.History(r.Context(), k, mux.Vars(r)["id"], viewer(r))
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, historyBody{Versions: recs})
	}
}

func (s *Server) listEntities(k registry.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, err := registry.ParseListQuery(k, r.URL.Query())
		if err != nil {
			writeError(w, r, err)
			return
		}
		q.Viewer = viewer(r)
		page, err := s.Registry.List(r.Context(), q)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, page)
	}
}

func (s *Server) deleteEntity(k registry.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.Registry.Delete(r.Context(), k, mux.Vars(r)["id"], actor(r), r.URL.Query().Get("reason")); err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func idempotencyKey(r *http.Request) (string, error) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 || strings.ContainsAny(key, "\x00\r\n") {
		return "", &provgraph.Error{Code: provgraph.Invalid, Status: http.StatusBadRequest, Message: "Idempotency-Key must be at most 255 printable characters",
			Fields: []provgraph.FieldError{{Path: "Idempotency-Key", Message: "at most 255 printable characters"}}}
	}
	return key, nil
}

func (s *Server) listSchemas(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, schemaNames{Schemas: s.Schemas.Names()})
}

func (s *Server) getSchema(w http.ResponseWriter, r *http.Request) {
	b, ok := s.Schemas.Raw(mux.Vars(r)["kind"])
	if !ok {
		writeError(w, r, provgraph.Errorf(provgraph.NotFound, "no schema named %q", mux.Vars(r)["kind"]))
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	_, _ = w.Write(b)
}

// recordLinks points from a record to its own routes and its PROV document.
func recordLinks(route, id string) map[string]string {
	self := "/api/v1/" + route + "/" + id
	return map[string]string{"self": self, "history": self + "/history", "prov": "/api/v1/prov/" + id, "iri": "/id/" + id}
}

// keyedBody reads a bounded body and the Idempotency-Key of a registering POST; on a bad
// one it has answered already and ok is false.
func (s *Server) keyedBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, key string, ok bool) {
	body, err := s.readBodyLimit(w, r, limit)
	if err == nil {
		key, err = idempotencyKey(r)
	}
	if err != nil {
		writeError(w, r, err)
		return nil, "", false
	}
	return body, key, true
}
