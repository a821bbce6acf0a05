package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"provgraph"
	"provgraph/auth"
	"provgraph/registry"
)

// Access reads and sets who may read a record.
type Access interface {
	Get(ctx context.Context, id string, v registry.Viewer) (registry.Access, error)
	Set(ctx context.Context, id string, groups []string, actor registry.Actor, at time.Time) (registry.Access, error)
}

var accessBody = map[string]any{
	"type": "object", "required": []string{"read_groups"}, "additionalProperties": false,
	"properties": map[string]any{
		"read_groups": map[string]any{"type": "array", "maxItems": registry.MaxReadGroups, "uniqueItems": true,
			"items": map[string]any{"type": "string", "pattern": registry.GroupPattern}},
	},
}

func (s *Server) accessRoutes() []route {
	item := "/api/v1/access/" + idPattern
	return []route{
		{Method: "GET", Path: item, Role: auth.Reader, Tag: "access", Status: http.StatusOK, Response: registry.Access{},
			Summary: "Who may read a record besides admins: members of read_groups, or every reader when it is empty.", Handler: s.getAccess},
		{Method: "PUT", Path: item, Role: auth.Writer, Tag: "access", Body: accessBody, Status: http.StatusOK, Response: registry.Access{},
			Example: map[string]any{"read_groups": []string{"reef-team"}},
			Summary: "Restrict every version of a record to read_groups (empty: open to every reader); its creator or an admin only. " +
				"A record a caller may not read is not found anywhere (records, lists, lineage, PROV), nor walked through; Cypher is then refused to that caller.",
			Handler: s.setAccess},
	}
}

func (s *Server) getAccess(w http.ResponseWriter, r *http.Request) {
	a, err := s.Access.Get(r.Context(), mux.Vars(r)["id"], viewer(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) setAccess(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req struct {
		ReadGroups *[]string `json:"read_groups"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.ReadGroups == nil {
		msg := "required: a list of group names, empty to open the record to every reader"
		if err != nil {
			msg = err.Error()
		}
		writeError(w, r, provgraph.InvalidFields(`the body must be {"read_groups": ["…"]}`, []provgraph.FieldError{{Path: "/read_groups", Message: msg}}))
		return
	}
	a, err := s.Access.Set(r.Context(), mux.Vars(r)["id"], *req.ReadGroups, actor(r), time.Now().UTC())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}
